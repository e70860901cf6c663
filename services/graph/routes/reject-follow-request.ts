/** RejectFollowRequest: drops `user_id`'s pending request to follow the caller; idempotent. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import type { GraphContext } from "../context.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";

export function rejectFollowRequest(ctx: GraphContext): Pick<ServiceImpl<typeof GraphService>, "rejectFollowRequest"> {
  return {
    async rejectFollowRequest(req) {
      const me = callerId();
      await ctx.rt.tx((tx) => ctx.store.deleteRequest(tx, req.userId, me));
      await ctx.cache.invalidate([me, req.userId]);
      return {};
    },
  };
}
