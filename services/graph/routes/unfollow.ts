/** Unfollow: ends the caller's follow of `user_id` and any pending request; idempotent. INVALID_ARGUMENT SELF_RELATION. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import type { GraphContext } from "../context.ts";
import { FollowRemovedReason } from "#gen/oasis/graph/v1/events_pb.ts";
import { notSelf, relationship, writeUnfollow } from "../domain/relations.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";

export function unfollow(ctx: GraphContext): Pick<ServiceImpl<typeof GraphService>, "unfollow"> {
  return {
    async unfollow(req) {
      const viewer = callerId();
      const target = req.userId;
      notSelf(ctx, viewer, target);
      const rel = await ctx.rt.tx(async (tx) => {
        await writeUnfollow(ctx, tx, viewer, target, FollowRemovedReason.UNFOLLOW);
        await ctx.store.deleteRequest(tx, viewer, target);
        return relationship(ctx, viewer, target, tx);
      });
      await ctx.cache.invalidate([viewer, target]);
      return { relationship: rel };
    },
  };
}
