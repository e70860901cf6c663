/**
 * Moderation's SQL (database `oasis_moderation`): implements domain/model.ts
 * ModerationStore. The workbench's claim runs in a READ COMMITTED transaction: the
 * queue's first candidates are read without locks, then locked one by one by primary
 * key with `FOR UPDATE SKIP LOCKED` (the claimable test repeated under the lock), and
 * the first it gets is leased by an UPDATE: concurrent claimers each take a different
 * row without waiting on one another. Lease times come from the database's clock.
 * `operations` is append-only: this file has no UPDATE or DELETE on it.
 */
import { randomBytes } from "node:crypto";
import { select, write, type Queryable, type Tx } from "#kit/mysql.ts";
import { ReviewState, type ActionType, type ReasonType, type SubjectType } from "#gen/oasis/moderation/v1/moderation_pb.ts";
import type { ActionRow, Content, ModerationStore, OperationRow, QueueFilter, ReportRow, SubjectRef, TicketRow } from "./domain/model.ts";

type TicketRaw = {
  ticket_id: string;
  subject_type: number;
  subject_id: string;
  parent_id: string;
  owner_id: string;
  content_type: string;
  language: string;
  state: number;
  escalated: number;
  priority: number;
  report_count: number;
  round: number;
  holder_id: string;
  lease_token: string | null;
  lease_expires_at: Date | null;
  lease_live: number;
  content_text: string;
  content_media: string | string[];
  content_gone: number;
  created_at: Date;
  appeal_action_id: string;
  appeal_reviewer_id: string;
};
type ReportRaw = { report_id: string; ticket_id: string; reporter_id: string; reason_type: number; reason_text: string; created_at: Date };
type ActionRaw = {
  action_id: string;
  ticket_id: string;
  subject_type: number;
  subject_id: string;
  parent_id: string;
  owner_id: string;
  action_type: number;
  reviewer_id: string;
  reason: string;
  expires_at: Date | null;
  reverses_action_id: string;
  reversed_by: string;
  created_at: Date;
};

const ticketColumns =
  "ticket_id, subject_type, subject_id, parent_id, owner_id, content_type, language, state, escalated, priority, report_count, round, holder_id, lease_token, lease_expires_at, (lease_expires_at IS NOT NULL AND lease_expires_at > NOW(3)) AS lease_live, content_text, content_media, content_gone, created_at, appeal_action_id, appeal_reviewer_id";

const toTicket = (r: TicketRaw): TicketRow => {
  const media = typeof r.content_media === "string" ? (JSON.parse(r.content_media) as string[]) : r.content_media;
  return {
    ticketId: BigInt(r.ticket_id),
    subject: { type: r.subject_type as SubjectType, id: BigInt(r.subject_id), parentId: BigInt(r.parent_id) },
    ownerId: BigInt(r.owner_id),
    contentType: r.content_type,
    language: r.language,
    state: r.state as ReviewState,
    escalated: r.escalated === 1,
    priority: Number(r.priority),
    reportCount: Number(r.report_count),
    round: Number(r.round),
    holderId: BigInt(r.holder_id),
    leaseToken: r.lease_token,
    leaseExpiresAt: r.lease_expires_at,
    leaseLive: Number(r.lease_live) === 1,
    content: { ownerId: BigInt(r.owner_id), text: r.content_text, mediaIds: media.map((m) => BigInt(m)), language: r.language, gone: r.content_gone === 1 },
    createdAt: r.created_at,
    appealActionId: BigInt(r.appeal_action_id),
    appealReviewerId: BigInt(r.appeal_reviewer_id),
  };
};
const toReport = (r: ReportRaw): ReportRow => ({
  reportId: BigInt(r.report_id),
  ticketId: BigInt(r.ticket_id),
  reporterId: BigInt(r.reporter_id),
  reasonType: r.reason_type as ReasonType,
  reasonText: r.reason_text,
  createdAt: r.created_at,
});
const toAction = (r: ActionRaw): ActionRow => ({
  actionId: BigInt(r.action_id),
  ticketId: BigInt(r.ticket_id),
  subject: { type: r.subject_type as SubjectType, id: BigInt(r.subject_id), parentId: BigInt(r.parent_id) },
  ownerId: BigInt(r.owner_id),
  type: r.action_type as ActionType,
  reviewerId: BigInt(r.reviewer_id),
  reason: r.reason,
  expiresAt: r.expires_at,
  reversesActionId: BigInt(r.reverses_action_id),
  reversedBy: BigInt(r.reversed_by),
  createdAt: r.created_at,
});

/** Candidates read per claim attempt: more than the reviewers likely to race for the top. */
const claimBatch = 64;

const mediaJson = (c: Content) => JSON.stringify(c.mediaIds.map(String));

/** A claimable ticket of the queue: waiting, or in review with a lapsed lease. */
function claimable(q: QueueFilter): { where: string; params: unknown[] } {
  const waiting = q.escalated ? ReviewState.ESCALATED : ReviewState.OPEN;
  let where = "(state = ? OR (state = ? AND lease_expires_at <= NOW(3))) AND escalated = ?";
  const params: unknown[] = [waiting, ReviewState.IN_REVIEW, q.escalated ? 1 : 0];
  if (q.appeals) {
    where += " AND appeal_action_id <> 0 AND appeal_reviewer_id <> ?";
    params.push(q.excludeReviewer ?? 0n);
  } else {
    where += " AND appeal_action_id = 0";
  }
  if (q.contentType) {
    where += " AND content_type = ?";
    params.push(q.contentType);
  }
  if (q.language) {
    where += " AND language = ?";
    params.push(q.language);
  }
  return { where, params };
}

export const moderationStore: ModerationStore = {
  async ticketBySubject(tx, s) {
    const rows = await select<TicketRaw>(tx, `SELECT ${ticketColumns} FROM tickets WHERE subject_type = ? AND subject_id = ? FOR UPDATE`, [s.type, s.id]);
    return rows[0] && toTicket(rows[0]);
  },

  async ticket(db, ticketId, forUpdate = false) {
    const rows = await select<TicketRaw>(db, `SELECT ${ticketColumns} FROM tickets WHERE ticket_id = ?${forUpdate ? " FOR UPDATE" : ""}`, [ticketId]);
    return rows[0] && toTicket(rows[0]);
  },

  async insertTicket(tx, t) {
    await write(
      tx,
      `INSERT INTO tickets (ticket_id, subject_type, subject_id, parent_id, owner_id, content_type, language, state, priority, report_count,
         content_text, content_media, created_at, opened_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, NOW(3), NOW(3))`,
      [t.ticketId, t.subject.type, t.subject.id, t.subject.parentId, t.content.ownerId, t.contentType, t.content.language, ReviewState.OPEN, t.priority, t.content.text, mediaJson(t.content)],
    );
  },

  async reopenTicket(tx, ticketId, content, priority) {
    await write(
      tx,
      `UPDATE tickets SET state = ?, escalated = 0, round = round + 1, report_count = 1, priority = ?, holder_id = 0, lease_token = NULL,
         lease_expires_at = NULL, content_text = ?, content_media = ?, language = ?, opened_at = NOW(3) WHERE ticket_id = ?`,
      [ReviewState.OPEN, priority, content.text, mediaJson(content), content.language, ticketId],
    );
  },

  async addToTicket(tx, ticketId, priorityDelta) {
    await write(tx, "UPDATE tickets SET report_count = report_count + 1, priority = priority + ? WHERE ticket_id = ?", [priorityDelta, ticketId]);
  },

  async reportBy(db, ticketId, round, reporterId) {
    const rows = await select<ReportRaw>(db, "SELECT * FROM reports WHERE ticket_id = ? AND round = ? AND reporter_id = ?", [ticketId, round, reporterId]);
    return rows[0] && toReport(rows[0]);
  },

  async insertReport(tx, r) {
    await write(tx, "INSERT INTO reports (report_id, ticket_id, round, reporter_id, reason_type, reason_text, created_at) VALUES (?, ?, ?, ?, ?, ?, NOW(3))", [
      r.reportId,
      r.ticketId,
      r.round,
      r.reporterId,
      r.reasonType,
      r.reasonText,
    ]);
    return (await this.reportBy(tx, r.ticketId, r.round, r.reporterId))!;
  },

  async reports(db, ticketId, round, limit) {
    const rows = await select<ReportRaw>(db, "SELECT * FROM reports WHERE ticket_id = ? AND round = ? ORDER BY report_id LIMIT ?", [ticketId, round, limit]);
    return rows.map(toReport);
  },

  async claim(tx, q, holderId, leaseToken, leaseSeconds) {
    const { where, params } = claimable(q);
    // Candidates in queue order without locks, then one row at a time by primary key
    // with SKIP LOCKED, the claimable test repeated under the lock (a locking read sees
    // the latest commit). A single ORDER BY ... LIMIT 1 FOR UPDATE would sort first and
    // lock every matching row it read, so one claimer would hide the whole queue from
    // the others until it committed.
    for (let attempt = 0; attempt < 3; attempt++) {
      const candidates = await select<{ ticket_id: string }>(tx, `SELECT ticket_id FROM tickets WHERE ${where} ORDER BY priority DESC, ticket_id LIMIT ?`, [...params, claimBatch]);
      if (!candidates.length) return undefined;
      for (const c of candidates) {
        const got = await select<{ ticket_id: string }>(tx, `SELECT ticket_id FROM tickets WHERE ticket_id = ? AND ${where} FOR UPDATE SKIP LOCKED`, [c.ticket_id, ...params]);
        if (!got.length) continue;
        const id = BigInt(c.ticket_id);
        await write(
          tx,
          "UPDATE tickets SET state = ?, holder_id = ?, lease_token = ?, lease_expires_at = NOW(3) + INTERVAL ? SECOND WHERE ticket_id = ?",
          [ReviewState.IN_REVIEW, holderId, leaseToken, leaseSeconds, id],
        );
        return id;
      }
    }
    return undefined;
  },

  async renew(tx, ticketId, holderId, leaseToken, leaseSeconds) {
    const n = await write(
      tx,
      `UPDATE tickets SET lease_expires_at = NOW(3) + INTERVAL ? SECOND
       WHERE ticket_id = ? AND state = ? AND holder_id = ? AND lease_token = ? AND lease_expires_at > NOW(3)`,
      [leaseSeconds, ticketId, ReviewState.IN_REVIEW, holderId, leaseToken],
    );
    if (n === 0) return undefined;
    const rows = await select<{ lease_expires_at: Date }>(tx, "SELECT lease_expires_at FROM tickets WHERE ticket_id = ?", [ticketId]);
    return rows[0]!.lease_expires_at;
  },

  async release(tx, ticketId, holderId, leaseToken) {
    const n = await write(
      tx,
      `UPDATE tickets SET state = IF(escalated = 1, ?, ?), holder_id = 0, lease_token = NULL, lease_expires_at = NULL
       WHERE ticket_id = ? AND state = ? AND holder_id = ? AND lease_token = ? AND lease_expires_at > NOW(3)`,
      [ReviewState.ESCALATED, ReviewState.OPEN, ticketId, ReviewState.IN_REVIEW, holderId, leaseToken],
    );
    return n > 0;
  },

  async settle(tx, ticketId, state, escalated) {
    await write(tx, "UPDATE tickets SET state = ?, escalated = ?, holder_id = 0, lease_token = NULL, lease_expires_at = NULL, appeal_action_id = 0, appeal_reviewer_id = 0 WHERE ticket_id = ?", [
      state,
      escalated ? 1 : 0,
      ticketId,
    ]);
  },

  async insertAction(tx, a) {
    await write(
      tx,
      `INSERT INTO actions (action_id, ticket_id, subject_type, subject_id, parent_id, owner_id, action_type, reviewer_id, reason, expires_at, reverses_action_id, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NOW(3))`,
      [a.actionId, a.ticketId, a.subject.type, a.subject.id, a.subject.parentId, a.ownerId, a.type, a.reviewerId, a.reason, a.expiresAt, a.reversesActionId],
    );
    return (await this.action(tx, a.actionId))!;
  },

  async action(db, actionId, forUpdate = false) {
    const rows = await select<ActionRaw>(db, `SELECT * FROM actions WHERE action_id = ?${forUpdate ? " FOR UPDATE" : ""}`, [actionId]);
    return rows[0] && toAction(rows[0]);
  },

  async markReversed(tx, actionId, by) {
    await write(tx, "UPDATE actions SET reversed_by = ? WHERE action_id = ? AND reversed_by = 0", [by, actionId]);
  },

  async dueActions(db, limit) {
    const rows = await select<ActionRaw>(db, "SELECT * FROM actions WHERE reversed_by = 0 AND expires_at IS NOT NULL AND expires_at <= NOW(3) ORDER BY expires_at LIMIT ?", [limit]);
    return rows.map(toAction);
  },

  async reporterIds(db, ticketId, round) {
    const rows = await select<{ reporter_id: string }>(db, "SELECT reporter_id FROM reports WHERE ticket_id = ? AND round = ? ORDER BY report_id", [ticketId, round]);
    return rows.map((r) => BigInt(r.reporter_id));
  },

  async appendOperation(tx, op) {
    await write(tx, "INSERT INTO operations (op_id, at, actor_id, kind, ticket_id, action_id, detail) VALUES (?, NOW(3), ?, ?, ?, ?, ?)", [
      op.opId,
      op.actorId,
      op.kind,
      op.ticketId,
      op.actionId,
      op.detail,
    ]);
  },

  async insertAppeal(tx, a) {
    await write(tx, "INSERT INTO appeals (appeal_id, action_id, ticket_id, appellant_id, text, created_at) VALUES (?, ?, ?, ?, ?, NOW(3))", [
      a.appealId,
      a.action.actionId,
      a.action.ticketId,
      a.appellantId,
      a.text,
    ]);
    await write(
      tx,
      `UPDATE tickets SET state = ?, escalated = 0, holder_id = 0, lease_token = NULL, lease_expires_at = NULL, appeal_action_id = ?, appeal_reviewer_id = ?
       WHERE ticket_id = ?`,
      [ReviewState.OPEN, a.action.actionId, a.action.reviewerId, a.action.ticketId],
    );
  },

  async decideAppeal(tx, actionId, decidedActionId, overturned) {
    await write(tx, "UPDATE appeals SET decided_action_id = ?, overturned = ? WHERE action_id = ? AND decided_action_id = 0", [decidedActionId, overturned ? 1 : 0, actionId]);
  },

  async operations(db, f) {
    let where = "1 = 1";
    const params: unknown[] = [];
    if (f.ticketId) (where += " AND ticket_id = ?"), params.push(f.ticketId);
    if (f.actorId) (where += " AND actor_id = ?"), params.push(f.actorId);
    if (f.kind) (where += " AND kind = ?"), params.push(f.kind);
    if (f.beforeOpId !== undefined) (where += " AND op_id < ?"), params.push(f.beforeOpId);
    const rows = await select<{ op_id: string; at: Date; actor_id: string; kind: string; ticket_id: string; action_id: string; detail: string }>(
      db,
      `SELECT op_id, at, actor_id, kind, ticket_id, action_id, detail FROM operations WHERE ${where} ORDER BY op_id DESC LIMIT ?`,
      [...params, f.limit],
    );
    return rows.map((r) => ({ opId: BigInt(r.op_id), at: r.at, actorId: BigInt(r.actor_id), kind: r.kind, ticketId: BigInt(r.ticket_id), actionId: BigInt(r.action_id), detail: r.detail }));
  },

  async actionTimes(db, reviewerId, start, end) {
    const rows = await select<{ acted: Date; claimed: Date | null }>(
      db,
      `SELECT a.at AS acted, (SELECT MAX(c.at) FROM operations c WHERE c.kind = 'claim' AND c.actor_id = a.actor_id AND c.ticket_id = a.ticket_id AND c.op_id < a.op_id) AS claimed
       FROM operations a WHERE a.actor_id = ? AND a.kind IN ('action', 'reverse') AND a.at >= ? AND a.at < ?`,
      [reviewerId, start, end],
    );
    return rows.map((r) => ({ actedAt: r.acted, claimedAt: r.claimed }));
  },

  async appealOutcomes(db, reviewerId) {
    const rows = await select<{ decided: number; overturned: string | null }>(
      db,
      `SELECT COUNT(*) AS decided, SUM(ap.overturned) AS overturned FROM appeals ap JOIN actions ac ON ac.action_id = ap.action_id
       WHERE ac.reviewer_id = ? AND ap.decided_action_id <> 0`,
      [reviewerId],
    );
    return { decided: Number(rows[0]!.decided), overturned: Number(rows[0]!.overturned ?? 0) };
  },
};

/** A fresh lease token: 16 random bytes, base64url (22 characters). */
export function newLeaseToken(): string {
  return randomBytes(16).toString("base64url");
}

export type { OperationRow, ReportRow, SubjectRef };
