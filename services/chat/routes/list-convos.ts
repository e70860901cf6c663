/**
 * ListConvos: the caller's convos, newest activity first (keyset on the member row's
 * activity_id, index members_inbox), optionally only unread or only one status (the
 * Requests list is status REQUEST). Three reads per page: rows, members, last messages.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import { decodePageToken, encodePageToken, pageSize } from "#kit/page-token.ts";
import type { ChatService } from "#gen/oasis/chat/v1/chat_service_pb.ts";
import type { ChatContext } from "../context.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";
import { convoViews } from "./convo-view.ts";

export function listConvos(ctx: ChatContext): Pick<ServiceImpl<typeof ChatService>, "listConvos"> {
  return {
    async listConvos(req) {
      const me = callerId();
      const scope = `convos:${me}:${req.status}:${req.unreadOnly ? 1 : 0}`;
      const limit = pageSize(req.pageSize, 20, 100);
      const before = decodePageToken(scope, req.pageToken)?.[0] as bigint | undefined;
      const rows = await ctx.store.inbox(ctx.rt.db, me, { status: req.status || undefined, unreadOnly: req.unreadOnly, before, limit: limit + 1 });
      const page = rows.slice(0, limit);
      return {
        convos: await convoViews(ctx, page),
        nextPageToken: rows.length > limit ? encodePageToken(scope, [page.at(-1)!.activityId]) : "",
      };
    },
  };
}
