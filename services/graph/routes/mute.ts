/** Mute: the caller mutes `user_id` (mute_created); idempotent. INVALID_ARGUMENT SELF_RELATION, NOT_FOUND USER_NOT_FOUND. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import type { GraphContext } from "../context.ts";
import { MuteCreatedSchema } from "#gen/oasis/graph/v1/events_pb.ts";
import { notSelf, relationship, requireAccount } from "../domain/relations.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";

export function mute(ctx: GraphContext): Pick<ServiceImpl<typeof GraphService>, "mute"> {
  return {
    async mute(req) {
      const viewer = callerId();
      const target = req.userId;
      notSelf(ctx, viewer, target);
      await requireAccount(ctx, target);
      await ctx.rt.tx(async (tx) => {
        if (await ctx.store.insertMute(tx, viewer, target, new Date())) await ctx.rt.outbox.add(tx, MuteCreatedSchema, { muterId: viewer, mutedId: target });
      });
      await ctx.cache.invalidate([viewer, target]);
      return { relationship: await relationship(ctx, viewer, target) };
    },
  };
}
