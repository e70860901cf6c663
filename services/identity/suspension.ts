/**
 * Suspensions from moderation (oasis.moderation.v1.action_taken, SUSPEND_ACCOUNT on a
 * USER subject): the account cannot sign in or refresh (ACCOUNT_SUSPENDED), and every
 * live session is revoked, which puts its access tokens on the edge's revocation list
 * (revocation.ts): the edge refuses them on their next request. A REVERSE, by a reviewer
 * or by moderation's timer when a duration ends, lifts it. Applied once per event.
 * (The sign-in check is domain/suspension.ts; GetAccountStatus is routes/get-account-status.ts.)
 */
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { applyOnce, on } from "#kit/consumer.ts";
import { select, write } from "#kit/mysql.ts";
import { ActionTakenSchema } from "#gen/oasis/moderation/v1/events_pb.ts";
import { appliedAction } from "../../shared-rules/moderation-action.ts";
import { ActionType, SubjectType } from "#gen/oasis/moderation/v1/moderation_pb.ts";
import type { IdentityContext } from "./context.ts";
import { revokeSessions } from "./revocation.ts";

/** The consumer of moderation's action_taken (durable "identity-suspensions"). */
export function suspensionConsumer(ctx: IdentityContext) {
  const { rt } = ctx;
  return {
    name: "identity-suspensions",
    handlers: [
      on(ActionTakenSchema, async (e, meta) => {
        const applied = appliedAction(e, [ActionType.SUSPEND_ACCOUNT], SubjectType.USER);
        if (!applied) return;
        const { action, undo } = applied;
        const userId = applied.subjectId;
        let revoked: bigint[] = [];
        await applyOnce(rt.db, "identity-suspensions", meta.eventId, async (tx) => {
          if (undo) {
            await write(tx, "DELETE FROM suspensions WHERE user_id = ? AND action_id = ?", [userId, action.actionId]);
            return;
          }
          const until = action.expireTime ? timestampDate(action.expireTime) : null;
          await write(tx, "INSERT IGNORE INTO suspensions (user_id, action_id, until, created_at) VALUES (?, ?, ?, NOW(3))", [userId, action.actionId, until]);
          // Sessions whose refresh may still mint tokens, and whose access tokens may live.
          const now = new Date();
          revoked = await ctx.store.revokeUserSessions(tx, userId, new Date(now.getTime() - ctx.config.accessTtlSeconds * 1000), now);
        });
        // After the commit; a redelivery (row already applied) revokes nothing new, and a
        // failure here fails the handler, whose retry finds the rows revoked: so the edge
        // list is written from the rows, not only from this attempt.
        if (!undo) {
          const live = await select<{ session_id: string }>(rt.db, "SELECT session_id FROM sessions WHERE user_id = ? AND revoked_at IS NOT NULL AND revoked_at > NOW(3) - INTERVAL ? SECOND", [
            userId,
            ctx.config.accessTtlSeconds + 60,
          ]);
          await revokeSessions(ctx, [...new Set([...revoked, ...live.map((r) => BigInt(r.session_id))])]);
        }
      }),
    ],
  };
}
