/** Runs the feed service: `bun services/feed/main.ts`. */
import { runMain } from "#kit/main.ts";
import { createFeedApp } from "./app.ts";
import { loadFeedConfig } from "./config.ts";

await runMain(() => createFeedApp(loadFeedConfig()));
