/** SearchHashtags: tags starting with the query, most posts first. */
import type { ServiceImpl } from "@connectrpc/connect";
import { pageSize } from "#kit/page-token.ts";
import { ErrorReason } from "#gen/oasis/search/v1/errors_pb.ts";
import type { SearchService } from "#gen/oasis/search/v1/search_service_pb.ts";
import type { SearchContext } from "../context.ts";
import { normalize } from "../domain/analyze.ts";
import { errors } from "./query.ts";

export function searchHashtags(ctx: SearchContext): Pick<ServiceImpl<typeof SearchService>, "searchHashtags"> {
  return {
    async searchHashtags(req) {
      const prefix = normalize(req.query.trim().replace(/^[#＃]/, ""));
      if (!/^[\p{L}\p{N}\p{M}_]+$/u.test(prefix)) {
        throw errors.invalid(ErrorReason.QUERY_EMPTY, [{ field: "query", description: "must be the start of a hashtag: letters, digits or _" }]);
      }
      const tags = await ctx.engine.searchHashtags(prefix, pageSize(req.pageSize, 10, 50));
      return { hashtags: tags.map((t) => ({ name: t.name, postCount: BigInt(t.posts), recentPostCount: BigInt(t.recent), trendingScore: t.score })) };
    },
  };
}
