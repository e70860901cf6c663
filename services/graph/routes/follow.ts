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
import { FollowCreatedSchema, FollowRequestedSchema } from "#gen/oasis/graph/v1/events_pb.ts";
import { FollowState } from "#gen/oasis/graph/v1/graph_pb.ts";
import { notSelf, requireAccount, writeFollow } from "../domain/relations.ts";
import { toRelationship } from "../domain/rules.ts";
import type { RelationFlag } from "../domain/model.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";

export function follow(ctx: GraphContext): Pick<ServiceImpl<typeof GraphService>, "follow"> {
  return {
    async follow(req) {
      const { rt, store } = ctx;
      const viewer = callerId();
      const target = req.userId;
      notSelf(ctx, viewer, target);
      const targetPrivate = await requireAccount(ctx, target);
      if (!targetPrivate && rt.config.batchedWrites) {
        const outcome = await followPublic(ctx, viewer, target);
        if (!outcome) throw ctx.errors.permissionDenied(ErrorReason.BLOCKED, "you cannot follow this user", { user_id: target });
        return { state: outcome.state, relationship: toRelationship(target, outcome.flags) };
      }
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

/**
 * A follow of a public account in one transaction of one round trip (store
 * followOneTrip) or, with OASIS_GRAPH_ONE_TRIP_FOLLOW=0, two (store followBatched), with
 * the follow_created outbox row written only when the edge is new;
 * undefined if either user blocks the other. OASIS_GRAPH_BATCHED_WRITES=0 takes the
 * statement-by-statement path instead (bench/graph.ts compares them). After the commit,
 * a new edge is added to both users' cached lists and counts in place
 * (graph-cache.ts followAdded, with the versions read before the transaction), or,
 * with OASIS_GRAPH_AMEND_CACHE=0, their cache entries are dropped; a repeated follow
 * changed nothing and touches no cache.
 */
async function followPublic(ctx: GraphContext, viewer: bigint, target: bigint): Promise<{ state: FollowState; flags: Set<RelationFlag> } | undefined> {
  const { rt, store } = ctx;
  const edgeId = rt.ids.next();
  const amend = rt.config.amendCache;
  // Read before the transaction starts, so no writer's bump after our commit can be taken for the version we saw.
  const seen = amend ? await ctx.cache.followVersions(viewer, target) : undefined;
  const created = (mutual: boolean, followeeMuting: boolean) => ({ followerId: viewer, followeeId: target, mutual, followeeMuting });
  // Variant index = mutual + 2 * followeeMuting (store.ts followOneTrip's @oasis_flags).
  const variants = [created(false, false), created(true, false), created(false, true), created(true, true)];
  const r =
    rt.config.oneTripFollow && rt.config.groupCommit > 1
      ? await ctx.follows.add({
          followerId: viewer,
          followeeId: target,
          id: edgeId,
          now: new Date(),
          // Built here, in this call's context (the outbox row carries its request id and trace).
          // The batch keeps no @oasis_created: the event keys on its edge's own row.
          event: rt.outbox.conditional(FollowCreatedSchema, variants, { sql: "EXISTS(SELECT 1 FROM follows WHERE follower_id = ? AND followee_id = ? AND id = ?)", params: [viewer, target, edgeId] }, "@oasis_flags"),
        })
      : await rt.batchTx((tx) =>
          rt.config.oneTripFollow
            ? store.followOneTrip(tx, viewer, target, edgeId, new Date(), (pick) => rt.outbox.statementOf(FollowCreatedSchema, variants, pick, "@oasis_created = 1"))
            : store.followBatched(tx, viewer, target, edgeId, new Date(), (mutual, followeeMuting) => rt.outbox.statement(FollowCreatedSchema, created(mutual, followeeMuting), "@oasis_created = 1")),
        );
  if (r.blocked) return undefined;
  if (!amend) await ctx.cache.invalidate([viewer, target]);
  else if (r.created) {
    if (seen) await ctx.cache.followAdded(viewer, target, edgeId, seen);
    else await ctx.cache.invalidate([viewer, target]);
  }
  return { state: FollowState.FOLLOWING, flags: r.flags };
}
