/** MarkRead: the caller's entries up to `up_to_notification_id` (0: all) are read; returns the unread count after. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { NotificationService } from "#gen/oasis/notification/v1/notification_service_pb.ts";
import type { NotificationContext } from "../context.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";

export function markRead(ctx: NotificationContext): Pick<ServiceImpl<typeof NotificationService>, "markRead"> {
  return {
    async markRead(req) {
      const user = callerId();
      await ctx.rt.tx((tx) => ctx.store.markRead(tx, user, req.upToNotificationId));
      return { unreadCount: await ctx.store.unreadCount(ctx.rt.db, user) };
    },
  };
}
