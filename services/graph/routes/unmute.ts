/** Unmute: ends the caller's mute of `user_id` (mute_removed); idempotent. INVALID_ARGUMENT SELF_RELATION. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import type { GraphContext } from "../context.ts";
import { MuteRemovedSchema } from "#gen/oasis/graph/v1/events_pb.ts";
import { notSelf, relationship } from "../domain/relations.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";

export function unmute(ctx: GraphContext): Pick<ServiceImpl<typeof GraphService>, "unmute"> {
  return {
    async unmute(req) {
      const viewer = callerId();
      const target = req.userId;
      notSelf(ctx, viewer, target);
      await ctx.rt.tx(async (tx) => {
        if (await ctx.store.deleteMute(tx, viewer, target)) await ctx.rt.outbox.add(tx, MuteRemovedSchema, { muterId: viewer, mutedId: target });
      });
      await ctx.cache.invalidate([viewer, target]);
      return { relationship: await relationship(ctx, viewer, target) };
    },
  };
}
