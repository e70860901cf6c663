/** Runs the media service: `bun services/media/main.ts`. */
import { runMain } from "#kit/main.ts";
import { createMediaApp } from "./app.ts";
import { loadMediaConfig } from "./config.ts";

await runMain(() => createMediaApp(loadMediaConfig()));
