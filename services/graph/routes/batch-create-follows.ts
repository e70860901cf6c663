/**
 * BatchCreateFollows: the caller follows many users at once (a follow import), each as
 * Follow would (a private account is asked instead), atomically, in one transaction of
 * two round trips (store.ts followManyReads, followManyPlan) with one outbox row per new
 * follow or request: the events are Follow's, so every consumer handles them as before.
 * Idempotent by request_id (kit/idempotency.ts idempotentBatched) and by nature.
 * Errors: INVALID_ARGUMENT (a field violation per item that is the caller's own id,
 * SELF_RELATION, or repeats an earlier id; request_id reused for another request),
 * NOT_FOUND USER_NOT_FOUND (metadata user_id: the first unknown id), PERMISSION_DENIED
 * BLOCKED (metadata user_id: the first target in a block with the caller, either way).
 */
import { create } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { BatchCreateFollowsRequestSchema, BatchCreateFollowsResponseSchema, FollowResultSchema, type GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import { ErrorReason } from "#gen/oasis/graph/v1/errors_pb.ts";
import { FollowCreatedSchema, FollowRequestedSchema } from "#gen/oasis/graph/v1/events_pb.ts";
import { FollowState } from "#gen/oasis/graph/v1/graph_pb.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";
import { invalidArgument, type FieldViolation } from "#kit/errors.ts";
import { fingerprint, idempotentBatched } from "#kit/idempotency.ts";
import type { GraphContext } from "../context.ts";
import { isSelf, toRelationship } from "../domain/rules.ts";

export function batchCreateFollows(ctx: GraphContext): Pick<ServiceImpl<typeof GraphService>, "batchCreateFollows"> {
  return {
    async batchCreateFollows(req) {
      const { rt, store } = ctx;
      const viewer = callerId();
      const ids = req.userIds;
      badItems(ctx, viewer, ids);
      const privacy = await ctx.accounts.privacy(ids);
      const unknown = ids.find((id) => !privacy.has(id));
      if (unknown !== undefined) throw ctx.errors.notFound(ErrorReason.USER_NOT_FOUND, `no user ${unknown}`, { user_id: unknown });
      const targets = ids.map((userId) => ({ userId, isPrivate: privacy.get(userId)! }));
      const key = { scope: "BatchCreateFollows", callerId: viewer, requestId: req.requestId };
      let changed: bigint[] = [];
      const { response } = await rt.batchTx((tx) =>
        idempotentBatched(tx, key, fingerprint(BatchCreateFollowsRequestSchema, req), BatchCreateFollowsResponseSchema, store.followManyReads(viewer, ids), (reads) => {
          const plan = store.followManyPlan(viewer, targets, reads, () => rt.ids.next(), new Date(), {
            created: (followeeId, mutual, followeeMuting, when) => rt.outbox.statement(FollowCreatedSchema, { followerId: viewer, followeeId, mutual, followeeMuting }, when),
            requested: (targetId, when) => rt.outbox.statement(FollowRequestedSchema, { requesterId: viewer, targetId }, when),
          });
          if (plan.blocked !== undefined) throw ctx.errors.permissionDenied(ErrorReason.BLOCKED, "you cannot follow this user", { user_id: plan.blocked });
          changed = plan.outcomes.filter((o) => o.changed).map((o) => o.userId);
          const results = plan.outcomes.map((o) =>
            create(FollowResultSchema, { state: o.state === "following" ? FollowState.FOLLOWING : FollowState.REQUESTED, relationship: toRelationship(o.userId, o.flags) }),
          );
          return { statements: plan.statements, response: create(BatchCreateFollowsResponseSchema, { results }) };
        }),
      );
      // The lists, counts and small sets of everyone whose rows this call wrote or tried to (a replay: none).
      if (changed.length > 0) await ctx.cache.invalidate([viewer, ...changed]);
      return response;
    },
  };
}

/** INVALID_ARGUMENT with a field violation per item that is the caller's own id or repeats an earlier one. */
function badItems(ctx: GraphContext, viewer: bigint, ids: readonly bigint[]): void {
  const violations: FieldViolation[] = [];
  const firstAt = new Map<bigint, number>();
  let self = false;
  ids.forEach((id, i) => {
    const earlier = firstAt.get(id);
    if (isSelf(viewer, id)) {
      self = true;
      violations.push({ field: `user_ids[${i}]`, description: "you cannot follow yourself", reason: "SELF_RELATION" });
    } else if (earlier !== undefined) violations.push({ field: `user_ids[${i}]`, description: `repeats user_ids[${earlier}]`, reason: "DUPLICATE" });
    else firstAt.set(id, i);
  });
  if (violations.length === 0) return;
  throw self ? ctx.errors.invalid(ErrorReason.SELF_RELATION, violations) : invalidArgument(violations);
}
