/**
 * bun test preload: quiet logs unless asked (OASIS_LOG_LEVEL=debug bun test), a
 * readable failure if the infrastructure is down, and fresh mesh keys for this run
 * (kit/testing/keys.ts).
 */
import "./keys.ts";

process.env.OASIS_LOG_LEVEL ??= "warn";
