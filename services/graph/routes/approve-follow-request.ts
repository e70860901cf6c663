/**
 * ApproveFollowRequest: `user_id`'s pending request to follow the caller becomes a
 * follow (none if a block came between). Idempotent once approved. NOT_FOUND
 * FOLLOW_REQUEST_NOT_FOUND when there was no request and no follow.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import type { GraphContext } from "../context.ts";
import { ErrorReason } from "#gen/oasis/graph/v1/errors_pb.ts";
import { relationship, writeFollow } from "../domain/relations.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";

export function approveFollowRequest(ctx: GraphContext): Pick<ServiceImpl<typeof GraphService>, "approveFollowRequest"> {
  return {
    async approveFollowRequest(req) {
      const { store } = ctx;
      const target = callerId();
      const requester = req.userId;
      const found = await ctx.rt.tx(async (tx) => {
        const had = await store.deleteRequest(tx, requester, target);
        if (!had) return store.isFollowing(tx, requester, target); // approved before: idempotent
        if (!(await store.blockedEitherWayForUpdate(tx, requester, target))) await writeFollow(ctx, tx, requester, target);
        return true;
      });
      await ctx.cache.invalidate([target, requester]);
      if (!found) {
        throw ctx.errors.notFound(ErrorReason.FOLLOW_REQUEST_NOT_FOUND, "no pending follow request from this user", { user_id: requester });
      }
      return { relationship: await relationship(ctx, target, requester) };
    },
  };
}
