/** Rows to proto messages. */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ActionSchema, ReportSchema, ReviewState, TicketSchema, type Action, type Report, type Ticket } from "#gen/oasis/moderation/v1/moderation_pb.ts";
import type { ActionRow, ReportRow, SubjectRef, TicketRow } from "./model.ts";


/** IN_REVIEW whose lease lapsed reads as back in its queue (the row is claimable). */
export function effectiveState(t: TicketRow): ReviewState {
  if (t.state === ReviewState.IN_REVIEW && !t.leaseLive) return t.escalated ? ReviewState.ESCALATED : ReviewState.OPEN;
  return t.state;
}

const subjectOf = (s: SubjectRef) => ({ type: s.type, id: s.id, parentId: s.parentId });

export function reportView(r: ReportRow, subject: SubjectRef): Report {
  return create(ReportSchema, {
    reportId: r.reportId,
    ticketId: r.ticketId,
    reporterId: r.reporterId,
    subject: subjectOf(subject),
    reasonType: r.reasonType,
    reasonText: r.reasonText,
    createTime: timestampFromDate(r.createdAt),
  });
}

export function ticketView(t: TicketRow, reports: readonly ReportRow[] = [], withContent = false): Ticket {
  const live = effectiveState(t) === ReviewState.IN_REVIEW;
  return create(TicketSchema, {
    ticketId: t.ticketId,
    subject: subjectOf(t.subject),
    ownerId: t.ownerId,
    state: effectiveState(t),
    priority: t.priority,
    reportCount: t.reportCount,
    queue: `${t.contentType}:${t.language}`,
    holderId: live ? t.holderId : 0n,
    leaseExpireTime: live && t.leaseExpiresAt ? timestampFromDate(t.leaseExpiresAt) : undefined,
    createTime: timestampFromDate(t.createdAt),
    content: withContent ? { ownerId: t.content.ownerId, text: t.content.text, mediaIds: [...t.content.mediaIds], language: t.content.language, gone: t.content.gone } : undefined,
    reports: reports.map((r) => reportView(r, t.subject)),
  });
}

export function actionView(a: ActionRow): Action {
  return create(ActionSchema, {
    actionId: a.actionId,
    ticketId: a.ticketId,
    subject: subjectOf(a.subject),
    type: a.type,
    reviewerId: a.reviewerId,
    reason: a.reason,
    expireTime: a.expiresAt ? timestampFromDate(a.expiresAt) : undefined,
    reversesActionId: a.reversesActionId,
    createTime: timestampFromDate(a.createdAt),
    ownerId: a.ownerId,
  });
}
