/** GetUnreadCount: the caller's unread entries. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { NotificationService } from "#gen/oasis/notification/v1/notification_service_pb.ts";
import type { NotificationContext } from "../context.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";

export function getUnreadCount(ctx: NotificationContext): Pick<ServiceImpl<typeof NotificationService>, "getUnreadCount"> {
  return {
    async getUnreadCount() {
      return { count: await ctx.store.unreadCount(ctx.rt.db, callerId()) };
    },
  };
}
