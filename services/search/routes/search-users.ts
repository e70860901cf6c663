/**
 * SearchUsers: engine hits (handle equal, handle prefix, other fields) -> profiles with
 * the caller's relationship. Through the request cache as SearchPosts
 * (search-posts.ts): an anonymous caller's whole page, pre-encoded; for a signed-in
 * viewer the hits and profiles, with blocks and the profile rules applied per request.
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { currentCaller } from "#kit/call-context.ts";
import { pageSize } from "#kit/page-token.ts";
import type { UserResult } from "#gen/oasis/search/v1/search_pb.ts";
import { SearchUsersResponseSchema, type SearchService } from "#gen/oasis/search/v1/search_service_pb.ts";
import type { SearchContext } from "../context.ts";
import type { Cursor, Hit } from "../domain/engine.ts";
import { loadUsers, presentUsers, userResults } from "../domain/hydrate.ts";
import { page } from "../domain/paging.ts";
import { answer, encodedSize, hitsSize, loadedSize, preEncode, queryKey, viewerClass } from "./cached.ts";
import { parsedQuery } from "./query.ts";

export function searchUsers(ctx: SearchContext): Pick<ServiceImpl<typeof SearchService>, "searchUsers"> {
  const cache = ctx.cache;
  return {
    async searchUsers(req, context) {
      const query = parsedQuery(req.query);
      const viewer = currentCaller();
      const limit = pageSize(req.pageSize, 20, 50);
      const scope = `users:${queryKey(query)}`;
      const key = `${scope}:${limit}:${req.pageToken}`;
      const search = (cursor: Cursor | undefined, n: number) => ctx.engine.searchUsers({ query, cursor, limit: n });
      const run = (fetch: (c: Cursor | undefined, n: number) => Promise<Hit[]>, present: (ids: bigint[]) => Promise<UserResult[]>) =>
        page({ scope, token: req.pageToken, limit, fetch, present: async (ids) => (await present(ids)).map((u) => ({ id: u.profile!.userId, item: u })) });
      const cls = viewerClass(viewer);
      if (cls === "anonymous" && cache.enabled) {
        const cached = await cache.get(`anon:${key}`, async () => {
          const { items, nextPageToken } = await run(search, (ids) => userResults(ctx, viewer, ids));
          return preEncode(SearchUsersResponseSchema, create(SearchUsersResponseSchema, { users: items, nextPageToken }));
        }, encodedSize);
        return answer(SearchUsersResponseSchema, cached, context);
      }
      if (cls !== "user" || !cache.enabled) {
        const { items, nextPageToken } = await run(search, (ids) => userResults(ctx, viewer, ids));
        return { users: items, nextPageToken };
      }
      const fetch = (cursor: Cursor | undefined, n: number) => cache.get(`hits:${scope}:${JSON.stringify(cursor ?? [], (_k, v) => (typeof v === "bigint" ? `${v}` : v))}:${n}`, () => search(cursor, n), hitsSize);
      const present = ctx.rt.config.readModel
        ? async (ids: bigint[]) => presentUsers(ctx, viewer, await cache.get(`load:users:${ids.join(",")}`, () => loadUsers(ctx, ids), () => loadedSize(ids.length)), ids)
        : (ids: bigint[]) => userResults(ctx, viewer, ids);
      const { items, nextPageToken } = await run(fetch, present);
      return { users: items, nextPageToken };
    },
  };
}
