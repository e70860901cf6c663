/**
 * NotificationService: the route modules merged (one file per RPC under routes/): the
 * inbox (summaries from the actors' handles, one identity batch per page), the unread
 * count, marking read, and the live stream (live.ts).
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { NotificationService } from "#gen/oasis/notification/v1/notification_service_pb.ts";
import type { NotificationContext } from "./context.ts";
import { getUnreadCount } from "./routes/get-unread-count.ts";
import { listNotifications } from "./routes/list-notifications.ts";
import { markRead } from "./routes/mark-read.ts";
import { streamNotifications } from "./routes/stream-notifications.ts";

export function notificationService(ctx: NotificationContext): ServiceImpl<typeof NotificationService> {
  return {
    ...listNotifications(ctx),
    ...getUnreadCount(ctx),
    ...markRead(ctx),
    ...streamNotifications(ctx),
  };
}
