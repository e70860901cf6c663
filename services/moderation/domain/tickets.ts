/**
 * Filing a report in a transaction: join the subject's ticket (new, reopened after
 * CLOSED, or the open one), record the report once per reporter and round, log it and
 * publish report_created. Used by CreateReport (a user) and the keyword rules (reporter 0).
 */
import type { Tx } from "#kit/mysql.ts";
import { ReportCreatedSchema } from "#gen/oasis/moderation/v1/events_pb.ts";
import { ReviewState, type ReasonType } from "#gen/oasis/moderation/v1/moderation_pb.ts";
import type { ModerationContext } from "../context.ts";
import type { Content, ReportRow, SubjectRef, TicketRow } from "./model.ts";
import { reportView } from "./present.ts";

export interface NewReport {
  readonly subject: SubjectRef;
  readonly content: Content;
  readonly contentType: string;
  /** Priority this report adds; `openPoints` more when it opens the ticket (the reach). */
  readonly points: number;
  readonly openPoints: number;
  readonly reporterId: bigint;
  readonly reasonType: ReasonType;
  readonly reasonText: string;
}

/** Files `r` in `tx`; returns the report (the earlier one for a repeat) and the ticket after it. */
export async function fileReport(ctx: ModerationContext, tx: Tx, r: NewReport): Promise<{ report: ReportRow; ticket: TicketRow; isNew: boolean }> {
  let ticket = await ctx.store.ticketBySubject(tx, r.subject);
  let opened = false;
  if (!ticket) {
    await ctx.store.insertTicket(tx, { ticketId: ctx.rt.ids.next(), subject: r.subject, content: r.content, contentType: r.contentType, priority: r.points + r.openPoints });
    opened = true;
  } else if (ticket.state === ReviewState.CLOSED) {
    await ctx.store.reopenTicket(tx, ticket.ticketId, r.content, r.points + r.openPoints);
    opened = true;
  }
  ticket = (await ctx.store.ticketBySubject(tx, r.subject))!;
  const prior = opened ? undefined : await ctx.store.reportBy(tx, ticket.ticketId, ticket.round, r.reporterId);
  if (prior) return { report: prior, ticket, isNew: false };
  if (!opened) await ctx.store.addToTicket(tx, ticket.ticketId, r.points);
  const report = await ctx.store.insertReport(tx, {
    reportId: ctx.rt.ids.next(),
    ticketId: ticket.ticketId,
    round: ticket.round,
    reporterId: r.reporterId,
    reasonType: r.reasonType,
    reasonText: r.reasonText,
  });
  await ctx.store.appendOperation(tx, {
    opId: ctx.rt.ids.next(),
    actorId: r.reporterId,
    kind: "report",
    ticketId: ticket.ticketId,
    actionId: 0n,
    detail: JSON.stringify({ reason_type: r.reasonType, reason_text: r.reasonText, reopened: opened && ticket.round > 1 }),
  });
  await ctx.rt.outbox.add(tx, ReportCreatedSchema, { report: reportView(report, r.subject) });
  return { report, ticket: (await ctx.store.ticket(tx, ticket.ticketId))!, isNew: true };
}
