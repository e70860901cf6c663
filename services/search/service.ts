/** SearchService: the route modules, one per RPC, merged. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { SearchService } from "#gen/oasis/search/v1/search_service_pb.ts";
import type { SearchContext } from "./context.ts";
import { listTrendingHashtags } from "./routes/list-trending-hashtags.ts";
import { searchHashtags } from "./routes/search-hashtags.ts";
import { searchPosts } from "./routes/search-posts.ts";
import { searchUsers } from "./routes/search-users.ts";
import { reindexRoutes } from "./routes/reindex.ts";

export function searchService(ctx: SearchContext): ServiceImpl<typeof SearchService> {
  return { ...searchUsers(ctx), ...searchPosts(ctx), ...searchHashtags(ctx), ...listTrendingHashtags(ctx), ...reindexRoutes(ctx) };
}
