/** Runs the identity service: `bun services/identity/main.ts`. */
import { runMain } from "#kit/main.ts";
import { createIdentityApp } from "./app.ts";
import { loadIdentityConfig } from "./config.ts";

await runMain(() => createIdentityApp(loadIdentityConfig()));
