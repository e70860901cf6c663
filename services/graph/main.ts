/** Runs the graph service: `bun services/graph/main.ts`. */
import { runMain } from "#kit/main.ts";
import { createGraphApp } from "./app.ts";
import { loadGraphConfig } from "./config.ts";

await runMain(() => createGraphApp(loadGraphConfig()));
