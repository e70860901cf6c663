/**
 * NotificationService handlers: the inbox (with summaries made from the actors'
 * handles, one identity batch per page), the unread count, marking read, and the live
 * stream (live.ts), which sends each new or updated entry of the caller as it commits.
 */
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { currentCall, currentCaller, runInCall } from "#kit/call-context.ts";
import { decodePageToken, encodePageToken, pageSize } from "#kit/page-token.ts";
import type { Notification } from "#gen/oasis/notification/v1/notification_pb.ts";
import { NotificationService } from "#gen/oasis/notification/v1/notification_service_pb.ts";
import type { NotificationContext } from "./context.ts";
import { summarize } from "./deliveries.ts";
import { byNotificationIds, inbox, markRead, unreadCount } from "./store.ts";

const me = (handler?: HandlerContext) => currentCaller(handler).userId!;

export function notificationService(ctx: NotificationContext): ServiceImpl<typeof NotificationService> {
  const db = ctx.rt.db;

  /** Fills in `summary` from the actors' handles. */
  async function withSummaries(list: Notification[]): Promise<Notification[]> {
    // Moderation's entries have no actor (0): nobody to look up.
    const actors = [...new Set(list.flatMap((n) => n.actorIds))].filter((a) => a > 0n);
    const handles = new Map<bigint, string>();
    if (actors.length) {
      for (const p of (await ctx.identity.batchGetProfiles({ userIds: actors })).profiles) handles.set(p.userId, p.handle);
    }
    for (const n of list) {
      n.summary = summarize(n.kind, n.actorIds.map((a) => handles.get(a) ?? "someone"), Number(n.actorCount), n.text);
    }
    return list;
  }

  return {
    async listNotifications(req) {
      const user = me();
      const scope = `inbox:${user}`;
      const limit = pageSize(req.pageSize, 20, 100);
      const before = decodePageToken(scope, req.pageToken)?.[0] as bigint | undefined;
      const rows = await inbox(db, user, before, limit + 1);
      const page = rows.slice(0, limit);
      return {
        notifications: await withSummaries(page),
        nextPageToken: rows.length > limit ? encodePageToken(scope, [page.at(-1)!.notificationId]) : "",
      };
    },

    async getUnreadCount() {
      return { count: await unreadCount(db, me()) };
    },

    async markRead(req) {
      const user = me();
      await ctx.rt.tx((tx) => markRead(tx, user, req.upToNotificationId));
      return { unreadCount: await unreadCount(db, user) };
    },

    async *streamNotifications(_req, handlerCtx) {
      const call = currentCall(handlerCtx);
      const user = me(handlerCtx);
      // Subscribed before the first message: a client that got it misses nothing after.
      const updates = await ctx.live.updates(user, handlerCtx.signal);
      yield { unreadCount: await unreadCount(db, user) };
      for await (const id of updates) {
        const [n] = await byNotificationIds(db, user, [id]);
        // Outgoing calls from here run for this caller, as in a unary handler.
        if (n) yield { notification: (await runInCall(call!, () => withSummaries([n])))[0], unreadCount: await unreadCount(db, user) };
      }
    },
  };
}
