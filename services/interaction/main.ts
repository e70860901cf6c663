/** Runs the interaction service: `bun services/interaction/main.ts`. */
import { runMain } from "#kit/main.ts";
import { createInteractionApp } from "./app.ts";
import { loadInteractionConfig } from "./config.ts";

await runMain(() => createInteractionApp(loadInteractionConfig()));
