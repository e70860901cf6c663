/**
 * Follow: the caller follows `user_id`, or asks to when the account is private
 * (state REQUESTED, a follow_requested event). Idempotent: a repeat changes nothing and
 * emits nothing. Errors: INVALID_ARGUMENT SELF_RELATION, NOT_FOUND USER_NOT_FOUND,
 * PERMISSION_DENIED BLOCKED (either user blocks the other).
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import type { GraphContext } from "../context.ts";
import { ErrorReason } from "#gen/oasis/graph/v1/errors_pb.ts";
import { FollowRequestedSchema } from "#gen/oasis/graph/v1/events_pb.ts";
import { FollowState } from "#gen/oasis/graph/v1/graph_pb.ts";
import { notSelf, requireAccount, writeFollow } from "../domain/relations.ts";
import { toRelationship } from "../domain/rules.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";

export function follow(ctx: GraphContext): Pick<ServiceImpl<typeof GraphService>, "follow"> {
  return {
    async follow(req) {
      const { rt, store } = ctx;
      const viewer = callerId();
      const target = req.userId;
      notSelf(ctx, viewer, target);
      const targetPrivate = await requireAccount(ctx, target);
      const outcome = await rt.tx(async (tx) => {
        if (await store.blockedEitherWayForUpdate(tx, viewer, target)) return undefined;
        if (targetPrivate && !(await store.isFollowing(tx, viewer, target))) {
          if (await store.insertRequest(tx, viewer, target, rt.ids.next(), new Date())) {
            await rt.outbox.add(tx, FollowRequestedSchema, { requesterId: viewer, targetId: target });
          }
          return { state: FollowState.REQUESTED, flags: await store.pairFlags(tx, viewer, target) };
        }
        return { state: FollowState.FOLLOWING, flags: await writeFollow(ctx, tx, viewer, target) };
      });
      if (!outcome) throw ctx.errors.permissionDenied(ErrorReason.BLOCKED, "you cannot follow this user", { user_id: target });
      await ctx.cache.invalidate([viewer, target]);
      return { state: outcome.state, relationship: toRelationship(target, outcome.flags) };
    },
  };
}
