/** Runs the notification service: `bun services/notification/main.ts`. */
import { runMain } from "#kit/main.ts";
import { createNotificationApp } from "./app.ts";
import { loadNotificationConfig } from "./config.ts";

await runMain(() => createNotificationApp(loadNotificationConfig()));
