/**
 * StreamNotifications: the unread count, then each new or updated entry of the caller as
 * it commits (live.ts), with the unread count after it, until the client goes away.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import { currentCall, runInCall } from "#kit/call-context.ts";
import type { NotificationService } from "#gen/oasis/notification/v1/notification_service_pb.ts";
import type { NotificationContext } from "../context.ts";
import { withSummaries } from "../domain/summaries.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";

export function streamNotifications(ctx: NotificationContext): Pick<ServiceImpl<typeof NotificationService>, "streamNotifications"> {
  const { store } = ctx;
  const db = ctx.rt.db;
  return {
    async *streamNotifications(_req, handlerCtx) {
      const call = currentCall(handlerCtx);
      const user = callerId(handlerCtx);
      // Subscribed before the first message: a client that got it misses nothing after.
      const updates = await ctx.live.updates(user, handlerCtx.signal);
      yield { unreadCount: await store.unreadCount(db, user) };
      for await (const id of updates) {
        const [n] = await store.byNotificationIds(db, user, [id]);
        // Outgoing calls from here run for this caller, as in a unary handler.
        if (n) yield { notification: (await runInCall(call!, () => withSummaries(ctx, [n])))[0], unreadCount: await store.unreadCount(db, user) };
      }
    },
  };
}
