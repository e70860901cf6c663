/**
 * FeedService: the route modules merged (one file per RPC under routes/). Feed has no
 * database and so no store.ts: every timeline can be rebuilt from post and graph
 * (timelines.ts and read-model.ts are its Redis).
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { FeedService } from "#gen/oasis/feed/v1/feed_service_pb.ts";
import type { FeedContext } from "./context.ts";
import { getHomeFeed } from "./routes/get-home-feed.ts";
import { getUserFeed } from "./routes/get-user-feed.ts";

export function feedService(ctx: FeedContext): ServiceImpl<typeof FeedService> {
  return {
    ...getHomeFeed(ctx),
    ...getUserFeed(ctx),
  };
}
