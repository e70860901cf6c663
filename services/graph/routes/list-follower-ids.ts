/** ListFollowerIds (internal): follower ids of `user_id`, newest first, with the total (page_size default 5000, at most 10,000). */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import type { GraphContext } from "../context.ts";
import { decodePageToken, encodePageToken, pageSize } from "#kit/page-token.ts";

export function listFollowerIds(ctx: GraphContext): Pick<ServiceImpl<typeof GraphService>, "listFollowerIds"> {
  return {
    async listFollowerIds(req) {
      const scope = `follower-ids:${req.userId}`;
      const limit = pageSize(req.pageSize, 5000, 10_000);
      const before = decodePageToken(scope, req.pageToken)?.[0] as bigint | undefined;
      const list = await ctx.cache.list("followers", req.userId);
      const rows = list
        ? list.page(before, limit + 1).map((e) => ({ id: e.edgeId, userId: e.userId }))
        : await ctx.store.edgePage(ctx.rt.db, "followers", req.userId, before, limit + 1);
      const page = rows.slice(0, limit);
      const total = list ? BigInt(list.length) : (await ctx.cache.getCounts([req.userId])).get(req.userId)!.followers;
      return {
        userIds: page.map((r) => r.userId),
        total,
        nextPageToken: rows.length > limit ? encodePageToken(scope, [page.at(-1)!.id]) : "",
      };
    },
  };
}
