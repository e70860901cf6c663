/**
 * CreateAppeal: the owner of the acted-on content appeals an action, once. The ticket
 * moves to the `appeals` queue (any reviewer but the one who acted claims it), and the
 * appeal is logged, in one transaction.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import { currentCaller } from "#kit/call-context.ts";
import { isDuplicateKey } from "#kit/mysql.ts";
import { ErrorReason } from "#gen/oasis/moderation/v1/errors_pb.ts";
import { ActionType } from "#gen/oasis/moderation/v1/moderation_pb.ts";
import type { ModerationService } from "#gen/oasis/moderation/v1/moderation_service_pb.ts";
import type { ModerationContext } from "../context.ts";
import { reversible } from "../domain/actions.ts";
import { errors } from "../domain/errors.ts";

export function createAppeal(ctx: ModerationContext): Pick<ServiceImpl<typeof ModerationService>, "createAppeal"> {
  return {
    async createAppeal(req) {
      const me = currentCaller().userId!;
      const appealId = ctx.rt.ids.next();
      const action = await ctx.store.action(ctx.rt.db, req.actionId);
      // Not the owner's: answered like a missing one (nothing to learn by probing ids).
      if (!action || action.ownerId !== me) throw errors.notFound(ErrorReason.ACTION_NOT_FOUND, `no action ${req.actionId} on your content`, { action_id: req.actionId });
      if (!reversible.has(action.type) || action.type === ActionType.WARN || action.reversedBy !== 0n) {
        throw errors.failedPrecondition(ErrorReason.ACTION_NOT_APPLICABLE, "only a standing takedown, label or suspension can be appealed", { action_id: action.actionId });
      }
      try {
        await ctx.rt.tx(async (tx) => {
          await ctx.store.insertAppeal(tx, { appealId, action, appellantId: me, text: req.text });
          await ctx.store.appendOperation(tx, { opId: ctx.rt.ids.next(), actorId: me, kind: "appeal", ticketId: action.ticketId, actionId: action.actionId, detail: JSON.stringify({ text: req.text }) });
        });
      } catch (err) {
        if (isDuplicateKey(err, "appeals_action")) throw errors.alreadyExists(ErrorReason.APPEAL_EXISTS, "this action was already appealed", { action_id: action.actionId });
        throw err;
      }
      return { appealId, ticketId: action.ticketId };
    },
  };
}
