/**
 * GetHomeFeed: the caller's home timeline. A home missing, or not pushed to while the
 * reader was away (OASIS_FEED_ACTIVE_DAYS), is rebuilt from the followees first; authors
 * above the fan-out threshold are merged in at read time (domain/pages.ts for paging).
 */
import type { ServiceImpl } from "@connectrpc/connect";
import { currentCaller } from "#kit/call-context.ts";
import type { FeedService } from "#gen/oasis/feed/v1/feed_service_pb.ts";
import type { FeedContext } from "../context.ts";
import { ensureUserTimeline, rebuildHome } from "../domain/builders.ts";
import { feedPage } from "../domain/pages.ts";

export function getHomeFeed(ctx: FeedContext): Pick<ServiceImpl<typeof FeedService>, "getHomeFeed"> {
  return {
    async getHomeFeed(req) {
      const viewer = currentCaller();
      const me = viewer.userId!;
      const { lastSeenMs, built, celebs } = await ctx.timelines.openHome(me);
      if (!built || lastSeenMs < Date.now() - ctx.rt.config.activeMs) await rebuildHome(ctx, me);
      let followed: bigint[] = [];
      if (celebs.length) {
        // The celebrities the reader follows (read-model.ts getRelationships: the reader's
        // relationship set when it is complete, OASIS_FEED_READ_REL_SETS, else graph).
        const rels = await ctx.readModel.getRelationships(ctx, me, celebs);
        followed = rels.filter((r) => r.following).map((r) => r.userId);
        await Promise.all(followed.map((a) => ensureUserTimeline(ctx, a)));
      }
      return feedPage(ctx, viewer, "ht", me, req.pageSize, req.pageToken, async (before, n) => {
        const lists = await Promise.all(followed.map((a) => ctx.timelines.page("ut", a, before, n)));
        return lists.flatMap((l) => l.ids);
      });
    },
  };
}
