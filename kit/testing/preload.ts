/**
 * bun test preload: quiet logs unless asked (OASIS_LOG_LEVEL=debug bun test), and a
 * readable failure if the infrastructure is down.
 */
process.env.OASIS_LOG_LEVEL ??= "warn";
