/** SearchUsers: engine hits (handle equal, handle prefix, other fields) -> profiles with the caller's relationship. */
import type { ServiceImpl } from "@connectrpc/connect";
import { currentCaller } from "#kit/call-context.ts";
import { pageSize } from "#kit/page-token.ts";
import type { SearchService } from "#gen/oasis/search/v1/search_service_pb.ts";
import type { SearchContext } from "../context.ts";
import { userResults } from "../domain/hydrate.ts";
import { page } from "../domain/paging.ts";
import { parsedQuery } from "./query.ts";

export function searchUsers(ctx: SearchContext): Pick<ServiceImpl<typeof SearchService>, "searchUsers"> {
  return {
    async searchUsers(req) {
      const query = parsedQuery(req.query);
      const viewer = currentCaller();
      const { items, nextPageToken } = await page({
        scope: `users:${req.query}`,
        token: req.pageToken,
        limit: pageSize(req.pageSize, 20, 50),
        fetch: (cursor, limit) => ctx.engine.searchUsers({ query, cursor, limit }),
        present: async (ids) => (await userResults(ctx, viewer, ids)).map((u) => ({ id: u.profile!.userId, item: u })),
      });
      return { users: items, nextPageToken };
    },
  };
}
