/** Runs the chat service: `bun services/chat/main.ts`. */
import { runMain } from "#kit/main.ts";
import { createChatApp } from "./app.ts";
import { loadChatConfig } from "./config.ts";

await runMain(() => createChatApp(loadChatConfig()));
