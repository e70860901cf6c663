/** GetUserFeed: `user_id`'s own posts as the caller may see them (domain/pages.ts for paging). */
import type { ServiceImpl } from "@connectrpc/connect";
import { currentCaller } from "#kit/call-context.ts";
import type { FeedService } from "#gen/oasis/feed/v1/feed_service_pb.ts";
import type { FeedContext } from "../context.ts";
import { ensureUserTimeline } from "../domain/builders.ts";
import { feedPage } from "../domain/pages.ts";

export function getUserFeed(ctx: FeedContext): Pick<ServiceImpl<typeof FeedService>, "getUserFeed"> {
  return {
    async getUserFeed(req) {
      await ensureUserTimeline(ctx, req.userId);
      return feedPage(ctx, currentCaller(), "ut", req.userId, req.pageSize, req.pageToken, async () => []);
    },
  };
}
