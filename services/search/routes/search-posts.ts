/**
 * SearchPosts: engine hits (exact before typo matches, newest first) -> PostViews the
 * caller may see. Through the request cache (../request-cache.ts): an anonymous caller's
 * whole page is cached (and pre-encoded, cached.ts, and stored for the edge's page path,
 * ../page-path.ts); for a signed-in viewer the engine's
 * hits and the loaded snapshots are, and the viewer's own state, relationships and the
 * visibility rules are applied on every request after the cache.
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { currentCaller } from "#kit/call-context.ts";
import { invalidArgument } from "#kit/errors.ts";
import { pageSize } from "#kit/page-token.ts";
import type { PostView } from "#gen/oasis/feed/v1/feed_pb.ts";
import { SearchPostsResponseSchema, type SearchService } from "#gen/oasis/search/v1/search_service_pb.ts";
import type { SearchContext } from "../context.ts";
import type { Cursor, Hit } from "../domain/engine.ts";
import { loadPosts, postViews, presentPosts } from "../domain/hydrate.ts";
import { page } from "../domain/paging.ts";
import { pageMaxAgeMs, pageRedisKey, pageTtlSeconds, pageValue, postsPageKey, postsScope, queryDep } from "../page-path.ts";
import { countersOf } from "../request-cache.ts";
import { answer, encodedSize, hitsSize, loadedSize, preEncode, viewerClass } from "./cached.ts";
import { parsedQuery } from "./query.ts";

const ms = (t: { seconds: bigint; nanos: number } | undefined) => (t ? Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6) : undefined);

export function searchPosts(ctx: SearchContext): Pick<ServiceImpl<typeof SearchService>, "searchPosts"> {
  const cache = ctx.cache;
  return {
    async searchPosts(req, context) {
      const query = parsedQuery(req.query);
      const afterMs = ms(req.after);
      const beforeMs = ms(req.before);
      if (afterMs !== undefined && beforeMs !== undefined && afterMs >= beforeMs) {
        throw invalidArgument([{ field: "after", description: "must be before `before`" }]);
      }
      const viewer = currentCaller();
      const authorId = req.authorId || undefined;
      const limit = pageSize(req.pageSize, 20, 50);
      const scope = postsScope(query, req);
      const key = postsPageKey(scope, limit, req.pageToken);
      // The query's own counter is part of the generation (per-query invalidation, note 32).
      const dep = queryDep(query);
      const search = (cursor: Cursor | undefined, n: number) => ctx.engine.searchPosts({ query, authorId, afterMs, beforeMs, cursor, limit: n });
      const run = (fetch: (c: Cursor | undefined, n: number) => Promise<Hit[]>, present: (ids: bigint[]) => Promise<PostView[]>) =>
        page({ scope, token: req.pageToken, limit, fetch, present: async (ids) => (await present(ids)).map((v) => ({ id: v.post!.postId, item: v })) });
      const cls = viewerClass(viewer);
      if (cls === "anonymous" && cache.enabled) {
        const cached = await cache.get(
          `anon:${key}`,
          async (gen) => {
            const { items, nextPageToken } = await run(search, (ids) => postViews(ctx, viewer, ids));
            const encoded = preEncode(SearchPostsResponseSchema, create(SearchPostsResponseSchema, { posts: items, nextPageToken }));
            // For the edge's page path (../page-path.ts); best effort, the answer does not wait.
            void ctx.rt.redis.set(pageRedisKey(key), pageValue(countersOf(gen), key, encoded.bytes), "EX", pageTtlSeconds).catch(() => {});
            return encoded;
          },
          encodedSize,
          { dep, maxAgeMs: pageMaxAgeMs },
        );
        return answer(SearchPostsResponseSchema, cached, context);
      }
      if (cls !== "user" || !cache.enabled) {
        const { items, nextPageToken } = await run(search, (ids) => postViews(ctx, viewer, ids));
        return { posts: items, nextPageToken };
      }
      // A signed-in viewer: the skeleton from the cache, the viewer's part fresh.
      const fetch = (cursor: Cursor | undefined, n: number) => cache.get(`hits:${scope}:${JSON.stringify(cursor ?? [], (_k, v) => (typeof v === "bigint" ? `${v}` : v))}:${n}`, () => search(cursor, n), hitsSize, { dep });
      const present = ctx.rt.config.readModel
        ? async (ids: bigint[]) => presentPosts(ctx, viewer, await cache.get(`load:posts:${ids.join(",")}`, () => loadPosts(ctx, ids), () => loadedSize(ids.length)), ids)
        : (ids: bigint[]) => postViews(ctx, viewer, ids);
      const { items, nextPageToken } = await run(fetch, present);
      return { posts: items, nextPageToken };
    },
  };
}
