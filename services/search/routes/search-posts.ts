/** SearchPosts: engine hits (exact before typo matches, newest first) -> PostViews the caller may see. */
import type { ServiceImpl } from "@connectrpc/connect";
import { currentCaller } from "#kit/call-context.ts";
import { invalidArgument } from "#kit/errors.ts";
import { pageSize } from "#kit/page-token.ts";
import type { SearchService } from "#gen/oasis/search/v1/search_service_pb.ts";
import type { SearchContext } from "../context.ts";
import { postViews } from "../domain/hydrate.ts";
import { page } from "../domain/paging.ts";
import { parsedQuery } from "./query.ts";

const ms = (t: { seconds: bigint; nanos: number } | undefined) => (t ? Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6) : undefined);

export function searchPosts(ctx: SearchContext): Pick<ServiceImpl<typeof SearchService>, "searchPosts"> {
  return {
    async searchPosts(req) {
      const query = parsedQuery(req.query);
      const afterMs = ms(req.after);
      const beforeMs = ms(req.before);
      if (afterMs !== undefined && beforeMs !== undefined && afterMs >= beforeMs) {
        throw invalidArgument([{ field: "after", description: "must be before `before`" }]);
      }
      const viewer = currentCaller();
      const authorId = req.authorId || undefined;
      const { items, nextPageToken } = await page({
        scope: `posts:${req.query}:${req.authorId}:${afterMs ?? ""}:${beforeMs ?? ""}`,
        token: req.pageToken,
        limit: pageSize(req.pageSize, 20, 50),
        fetch: (cursor, limit) => ctx.engine.searchPosts({ query, authorId, afterMs, beforeMs, cursor, limit }),
        present: async (ids) => (await postViews(ctx, viewer, ids)).map((v) => ({ id: v.post!.postId, item: v })),
      });
      return { posts: items, nextPageToken };
    },
  };
}
