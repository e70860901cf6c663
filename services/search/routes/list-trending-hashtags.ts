/** ListTrendingHashtags: tags by growth of the last 24 h over their own daily mean of the week before. */
import type { ServiceImpl } from "@connectrpc/connect";
import { pageSize } from "#kit/page-token.ts";
import type { SearchService } from "#gen/oasis/search/v1/search_service_pb.ts";
import type { SearchContext } from "../context.ts";

export function listTrendingHashtags(ctx: SearchContext): Pick<ServiceImpl<typeof SearchService>, "listTrendingHashtags"> {
  return {
    async listTrendingHashtags(req) {
      const tags = await ctx.engine.trendingHashtags(Date.now(), pageSize(req.pageSize, 10, 50));
      return { hashtags: tags.map((t) => ({ name: t.name, postCount: BigInt(t.posts), recentPostCount: BigInt(t.recent), trendingScore: t.score })) };
    },
  };
}
