/**
 * Block: the caller blocks `user_id`; follows both ways and pending requests both ways
 * end in the same transaction (follow_removed with reason BLOCK, block_created).
 * Idempotent. Errors: INVALID_ARGUMENT SELF_RELATION, NOT_FOUND USER_NOT_FOUND.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import type { GraphContext } from "../context.ts";
import { BlockCreatedSchema, FollowRemovedReason } from "#gen/oasis/graph/v1/events_pb.ts";
import { notSelf, relationship, requireAccount, writeUnfollow } from "../domain/relations.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";

export function block(ctx: GraphContext): Pick<ServiceImpl<typeof GraphService>, "block"> {
  return {
    async block(req) {
      const { store } = ctx;
      const viewer = callerId();
      const target = req.userId;
      notSelf(ctx, viewer, target);
      await requireAccount(ctx, target);
      await ctx.rt.tx(async (tx) => {
        await store.blockedEitherWayForUpdate(tx, viewer, target);
        if (!(await store.insertBlock(tx, viewer, target, new Date()))) return;
        await writeUnfollow(ctx, tx, viewer, target, FollowRemovedReason.BLOCK);
        await writeUnfollow(ctx, tx, target, viewer, FollowRemovedReason.BLOCK);
        await store.deleteRequest(tx, viewer, target);
        await store.deleteRequest(tx, target, viewer);
        await ctx.rt.outbox.add(tx, BlockCreatedSchema, { blockerId: viewer, blockedId: target });
      });
      await ctx.cache.invalidate([viewer, target]);
      return { relationship: await relationship(ctx, viewer, target) };
    },
  };
}
