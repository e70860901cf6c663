/** Runs the wallet service: `bun services/wallet/main.ts`. */
import { runMain } from "#kit/main.ts";
import { createWalletApp } from "./app.ts";
import { loadWalletConfig } from "./config.ts";

await runMain(() => createWalletApp(loadWalletConfig()));
