/** Runs the post service: `bun services/post/main.ts`. */
import { runMain } from "#kit/main.ts";
import { createPostApp } from "./app.ts";
import { loadPostConfig } from "./config.ts";

await runMain(() => createPostApp(loadPostConfig()));
