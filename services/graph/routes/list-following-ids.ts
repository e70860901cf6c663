/** ListFollowingIds (internal): ids `user_id` follows, ascending (page_size default 5000, at most 10,000). */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import type { GraphContext } from "../context.ts";
import { decodePageToken, encodePageToken, pageSize } from "#kit/page-token.ts";

export function listFollowingIds(ctx: GraphContext): Pick<ServiceImpl<typeof GraphService>, "listFollowingIds"> {
  return {
    async listFollowingIds(req) {
      const scope = `following-ids:${req.userId}`;
      const limit = pageSize(req.pageSize, 5000, 10_000);
      const after = (decodePageToken(scope, req.pageToken)?.[0] as bigint | undefined) ?? 0n;
      const rows = await ctx.store.followingIds(ctx.rt.db, req.userId, after, limit + 1);
      const ids = rows.slice(0, limit);
      return { userIds: ids, nextPageToken: rows.length > limit ? encodePageToken(scope, [ids.at(-1)!]) : "" };
    },
  };
}
