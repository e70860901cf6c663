/** ListNotifications: the caller's inbox, newest first, with summaries (page_size default 20, at most 100). */
import type { ServiceImpl } from "@connectrpc/connect";
import { decodePageToken, encodePageToken, pageSize } from "#kit/page-token.ts";
import type { NotificationService } from "#gen/oasis/notification/v1/notification_service_pb.ts";
import type { NotificationContext } from "../context.ts";
import { withSummaries } from "../domain/summaries.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";

export function listNotifications(ctx: NotificationContext): Pick<ServiceImpl<typeof NotificationService>, "listNotifications"> {
  return {
    async listNotifications(req) {
      const user = callerId();
      const scope = `inbox:${user}`;
      const limit = pageSize(req.pageSize, 20, 100);
      const before = decodePageToken(scope, req.pageToken)?.[0] as bigint | undefined;
      const rows = await ctx.store.inbox(ctx.rt.db, user, before, limit + 1);
      const page = rows.slice(0, limit);
      return {
        notifications: await withSummaries(ctx, page),
        nextPageToken: rows.length > limit ? encodePageToken(scope, [page.at(-1)!.notificationId]) : "",
      };
    },
  };
}
