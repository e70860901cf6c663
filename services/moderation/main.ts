/** Runs the moderation service: `bun services/moderation/main.ts`. */
import { runMain } from "#kit/main.ts";
import { createModerationApp } from "./app.ts";
import { loadModerationConfig } from "./config.ts";

await runMain(() => createModerationApp(loadModerationConfig()));
