/** ReconcileCounts (internal): recounts `post_ids`, or up to 10,000 posts marked dirty; returns checked and fixed. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { InteractionService } from "#gen/oasis/interaction/v1/interaction_service_pb.ts";
import type { InteractionContext } from "../context.ts";
import { reconcile } from "../reconcile.ts";

export function reconcileCounts(ctx: InteractionContext): Pick<ServiceImpl<typeof InteractionService>, "reconcileCounts"> {
  return {
    async reconcileCounts(req) {
      const ids = req.postIds.length ? [...req.postIds] : await ctx.counters.takeDirty(10_000);
      const r = await reconcile(ctx, ids);
      return { checked: BigInt(r.checked), fixed: BigInt(r.fixed) };
    },
  };
}
