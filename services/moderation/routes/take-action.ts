/**
 * TakeAction: an action on a ticket whose live lease the caller holds (REVERSE: on any
 * ticket, naming a standing action of it). Idempotent by request_id (kit/idempotency.ts).
 */
import { create } from "@bufbuild/protobuf";
import { durationMs } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { fingerprint, idempotent } from "#kit/idempotency.ts";
import { ErrorReason } from "#gen/oasis/moderation/v1/errors_pb.ts";
import { ActionType } from "#gen/oasis/moderation/v1/moderation_pb.ts";
import { TakeActionRequestSchema, TakeActionResponseSchema, type ModerationService } from "#gen/oasis/moderation/v1/moderation_service_pb.ts";
import { adapters } from "../adapters/index.ts";
import { commonActions } from "../adapters/adapter.ts";
import type { ModerationContext } from "../context.ts";
import { recordAction, reversible } from "../domain/actions.ts";
import { errors } from "../domain/errors.ts";
import { actionView, ticketView } from "../domain/present.ts";
import { requireModerator } from "../domain/roles.ts";

/** Longest duration accepted: a year (a longer one is a permanent action). */
const maxDurationMs = 365 * 24 * 3600 * 1000;

export function takeAction(ctx: ModerationContext): Pick<ServiceImpl<typeof ModerationService>, "takeAction"> {
  return {
    async takeAction(req) {
      const me = await requireModerator(ctx.roles);
      const ms = req.duration ? durationMs(req.duration) : 0;
      if (ms < 0 || ms > maxDurationMs) throw errors.invalid(ErrorReason.UNSPECIFIED, [{ field: "duration", description: "must be between 0 and 365 days" }]);
      if (ms && req.action !== ActionType.SUSPEND_ACCOUNT && req.action !== ActionType.TAKEDOWN) {
        throw errors.invalid(ErrorReason.UNSPECIFIED, [{ field: "duration", description: "applies only to SUSPEND_ACCOUNT and TAKEDOWN" }]);
      }
      if (req.action === ActionType.REVERSE && req.reversesActionId <= 0n) {
        throw errors.invalid(ErrorReason.UNSPECIFIED, [{ field: "reverses_action_id", description: "names the action a REVERSE undoes" }]);
      }
      const key = { scope: "TakeAction", callerId: me, requestId: req.requestId };
      const { response } = await ctx.rt.tx((tx) =>
        idempotent(tx, key, fingerprint(TakeActionRequestSchema, req), TakeActionResponseSchema, async () => {
          const ticket = await ctx.store.ticket(tx, req.ticketId, true);
          if (!ticket) throw errors.notFound(ErrorReason.TICKET_NOT_FOUND, `no ticket ${req.ticketId}`, { ticket_id: req.ticketId });
          if (ticket.appealActionId !== 0n && ticket.appealReviewerId === me) {
            throw errors.permissionDenied(ErrorReason.SAME_REVIEWER, "another reviewer must handle the appeal of your action", { ticket_id: ticket.ticketId });
          }
          let action;
          if (req.action === ActionType.REVERSE) {
            const target = await ctx.store.action(tx, req.reversesActionId, true);
            if (!target || target.ticketId !== ticket.ticketId) {
              throw errors.notFound(ErrorReason.ACTION_NOT_FOUND, `no action ${req.reversesActionId} on ticket ${req.ticketId}`, { action_id: req.reversesActionId });
            }
            if (target.reversedBy !== 0n || !reversible.has(target.type)) {
              throw errors.failedPrecondition(ErrorReason.ACTION_NOT_APPLICABLE, "that action is already reversed, or changed nothing to undo", { action_id: target.actionId });
            }
            action = await recordAction(ctx, tx, { ticket, type: req.action, reviewerId: me, reason: req.reason, reverses: target });
          } else {
            if (!(ticket.holderId === me && ticket.leaseToken === req.leaseToken && ticket.leaseLive)) {
              throw errors.failedPrecondition(ErrorReason.LEASE_NOT_HELD, "you do not hold this ticket's lease (claim it first; it may have expired)", { ticket_id: req.ticketId });
            }
            const adapter = adapters.get(ticket.subject.type)!;
            if (!commonActions.has(req.action) && !adapter.actions.has(req.action)) {
              throw errors.failedPrecondition(ErrorReason.ACTION_NOT_APPLICABLE, `${ActionType[req.action]} does not apply to a ${adapter.contentType}`, { action: ActionType[req.action] });
            }
            action = await recordAction(ctx, tx, { ticket, type: req.action, reviewerId: me, reason: req.reason, durationMs: ms || undefined });
          }
          const after = (await ctx.store.ticket(tx, ticket.ticketId))!;
          return create(TakeActionResponseSchema, { action: actionView(action), ticket: ticketView(after) });
        }),
      );
      return response;
    },
  };
}
