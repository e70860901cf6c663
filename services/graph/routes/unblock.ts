/** Unblock: ends the caller's block of `user_id` (block_removed); idempotent. INVALID_ARGUMENT SELF_RELATION. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import type { GraphContext } from "../context.ts";
import { BlockRemovedSchema } from "#gen/oasis/graph/v1/events_pb.ts";
import { notSelf, relationship } from "../domain/relations.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";

export function unblock(ctx: GraphContext): Pick<ServiceImpl<typeof GraphService>, "unblock"> {
  return {
    async unblock(req) {
      const viewer = callerId();
      const target = req.userId;
      notSelf(ctx, viewer, target);
      await ctx.rt.tx(async (tx) => {
        if (await ctx.store.deleteBlock(tx, viewer, target)) await ctx.rt.outbox.add(tx, BlockRemovedSchema, { blockerId: viewer, blockedId: target });
      });
      await ctx.cache.invalidate([viewer, target]);
      return { relationship: await relationship(ctx, viewer, target) };
    },
  };
}
