/**
 * Builds the notification process: runtime (MySQL `oasis_notification`, the bus for
 * events and live updates), NotificationService, and the event consumers.
 */
import { join } from "node:path";
import { openRuntime, serve, type App } from "#kit/runtime.ts";
import { bind } from "#kit/server.ts";
import { NotificationService } from "#gen/oasis/notification/v1/notification_service_pb.ts";
import type { NotificationConfig } from "./config.ts";
import { createContext } from "./context.ts";
import { dropsConsumer } from "./drops.ts";
import { moderationConsumer } from "./moderation.ts";
import { consumers } from "./events.ts";
import { notificationService } from "./service.ts";

export async function createNotificationApp(config: NotificationConfig): Promise<App> {
  const rt = await openRuntime(config, { migrationsDir: join(import.meta.dir, "migrations"), bus: true, multipleStatements: true });
  const ctx = createContext(rt);
  return serve(rt, { bindings: [bind(NotificationService, notificationService(ctx))], consumers: [...consumers(ctx), dropsConsumer(ctx), moderationConsumer(ctx)] });
}
