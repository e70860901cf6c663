/** Runs the search service: `bun services/search/main.ts`. */
import { runMain } from "#kit/main.ts";
import { createSearchApp } from "./app.ts";
import { loadSearchConfig } from "./config.ts";

await runMain(() => createSearchApp(loadSearchConfig()));
