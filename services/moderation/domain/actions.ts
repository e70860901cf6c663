/**
 * Recording an action: the action row, the ticket's new state, the operation log entry
 * and the action_taken event (outbox) in one transaction, so the owning services hear
 * of exactly the actions that committed. A REVERSE marks the undone action and carries
 * it in the event, so the owner knows what to undo.
 */
import type { Tx } from "#kit/mysql.ts";
import { ActionTakenSchema } from "#gen/oasis/moderation/v1/events_pb.ts";
import { ActionType, ReviewState } from "#gen/oasis/moderation/v1/moderation_pb.ts";
import type { ModerationContext } from "../context.ts";
import type { ActionRow, TicketRow } from "./model.ts";
import { actionView } from "./present.ts";

export interface NewAction {
  readonly ticket: TicketRow;
  readonly type: ActionType;
  readonly reviewerId: bigint;
  readonly reason: string;
  readonly durationMs?: number;
  /** For REVERSE: the standing action undone. */
  readonly reverses?: ActionRow;
  /** Leave the ticket's state alone (the rules' auto-label and auto-hide: still pending review). */
  readonly keepOpen?: boolean;
}

/** What the ticket becomes after an action: ESCALATE sends it up, anything else closes it. */
export function ticketAfter(type: ActionType): { state: ReviewState; escalated: boolean } {
  return type === ActionType.ESCALATE ? { state: ReviewState.ESCALATED, escalated: true } : { state: ReviewState.CLOSED, escalated: false };
}

/** Records `a` in `tx` (see the file comment) and returns the row. */
export async function recordAction(ctx: ModerationContext, tx: Tx, a: NewAction): Promise<ActionRow> {
  const t = a.ticket;
  const action = await ctx.store.insertAction(tx, {
    actionId: ctx.rt.ids.next(),
    ticketId: t.ticketId,
    subject: t.subject,
    ownerId: t.ownerId,
    type: a.type,
    reviewerId: a.reviewerId,
    reason: a.reason,
    expiresAt: a.durationMs ? new Date(Date.now() + a.durationMs) : null,
    reversesActionId: a.reverses?.actionId ?? 0n,
  });
  // An appeal is settled by upholding (ACKNOWLEDGE) or overturning (REVERSE of the appealed action).
  const settlesAppeal = t.appealActionId !== 0n && (a.type === ActionType.ACKNOWLEDGE || a.reverses?.actionId === t.appealActionId);
  if (settlesAppeal) await ctx.store.decideAppeal(tx, t.appealActionId, action.actionId, a.type === ActionType.REVERSE);
  if (a.reverses) {
    await ctx.store.markReversed(tx, a.reverses.actionId, action.actionId);
    if (settlesAppeal) await ctx.store.settle(tx, t.ticketId, ReviewState.CLOSED, false);
  } else if (!a.keepOpen) {
    const next = ticketAfter(a.type);
    await ctx.store.settle(tx, t.ticketId, next.state, next.escalated);
  }
  await ctx.store.appendOperation(tx, {
    opId: ctx.rt.ids.next(),
    actorId: a.reviewerId,
    kind: a.type === ActionType.REVERSE ? "reverse" : "action",
    ticketId: t.ticketId,
    actionId: action.actionId,
    detail: JSON.stringify({ action: ActionType[a.type], reason: a.reason, duration_ms: a.durationMs ?? 0, reverses: String(a.reverses?.actionId ?? 0n) }),
  });
  await ctx.rt.outbox.add(tx, ActionTakenSchema, {
    action: actionView(action),
    reversed: a.reverses ? actionView(a.reverses) : undefined,
    reporterIds: await ctx.store.reporterIds(tx, t.ticketId, t.round),
  });
  return action;
}

/** Actions a REVERSE may undo: those that changed something or told someone. */
export const reversible: ReadonlySet<ActionType> = new Set([ActionType.TAKEDOWN, ActionType.LABEL_SENSITIVE, ActionType.SUSPEND_ACCOUNT, ActionType.WARN]);

/** Reverses standing actions whose duration ran out, as reviewer 0 (the timer). Returns how many. */
export async function liftExpired(ctx: ModerationContext): Promise<number> {
  const due = await ctx.store.dueActions(ctx.rt.db, 100);
  let lifted = 0;
  for (const d of due) {
    const done = await ctx.rt.tx(async (tx) => {
      const a = await ctx.store.action(tx, d.actionId, true);
      if (!a || a.reversedBy !== 0n) return false;
      const ticket = (await ctx.store.ticket(tx, a.ticketId))!;
      await recordAction(ctx, tx, { ticket, type: ActionType.REVERSE, reviewerId: 0n, reason: "the action's duration ended", reverses: a });
      return true;
    });
    if (done) lifted++;
  }
  return lifted;
}
