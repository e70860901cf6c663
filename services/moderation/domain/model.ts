/** Moderation's domain shapes and the store interface (store.ts implements it in SQL). */
import type { Queryable, Tx } from "#kit/mysql.ts";
import type { ActionType, ReasonType, ReviewState, SubjectType } from "#gen/oasis/moderation/v1/moderation_pb.ts";

export interface SubjectRef {
  readonly type: SubjectType;
  readonly id: bigint;
  readonly parentId: bigint;
}

/** A subject's content as a reviewer sees it (snapshotted at report time). */
export interface Content {
  readonly ownerId: bigint;
  readonly text: string;
  readonly mediaIds: readonly bigint[];
  readonly language: string;
  readonly gone: boolean;
}

export interface TicketRow {
  readonly ticketId: bigint;
  readonly subject: SubjectRef;
  readonly ownerId: bigint;
  readonly contentType: string;
  readonly language: string;
  /** As stored: IN_REVIEW stays stored after a lease expires (see `effectiveState`). */
  readonly state: ReviewState;
  readonly escalated: boolean;
  readonly priority: number;
  readonly reportCount: number;
  readonly round: number;
  readonly holderId: bigint;
  readonly leaseToken: string | null;
  readonly leaseExpiresAt: Date | null;
  /** Whether the lease is live by the database's clock when read. */
  readonly leaseLive: boolean;
  readonly content: Content;
  readonly createdAt: Date;
  /** A pending appeal: the appealed action, and its reviewer (who may not handle it). 0 when none. */
  readonly appealActionId: bigint;
  readonly appealReviewerId: bigint;
}

export interface ReportRow {
  readonly reportId: bigint;
  readonly ticketId: bigint;
  readonly reporterId: bigint;
  readonly reasonType: ReasonType;
  readonly reasonText: string;
  readonly createdAt: Date;
}

export interface ActionRow {
  readonly actionId: bigint;
  readonly ticketId: bigint;
  readonly subject: SubjectRef;
  readonly ownerId: bigint;
  readonly type: ActionType;
  readonly reviewerId: bigint;
  readonly reason: string;
  readonly expiresAt: Date | null;
  readonly reversesActionId: bigint;
  readonly reversedBy: bigint;
  readonly createdAt: Date;
}

/** One operation log entry (append-only). */
export interface OperationRow {
  readonly opId: bigint;
  readonly at: Date;
  readonly actorId: bigint;
  readonly kind: string;
  readonly ticketId: bigint;
  readonly actionId: bigint;
  readonly detail: string;
}

/** Which tickets a claim may take: by content type and language, or the escalated queue. */
export interface QueueFilter {
  readonly escalated: boolean;
  /** The appeals queue; `excludeReviewer` is the claimer (never their own action's appeal). */
  readonly appeals?: boolean;
  readonly excludeReviewer?: bigint;
  readonly contentType?: string;
  readonly language?: string;
}

export interface ModerationStore {
  ticketBySubject(tx: Tx, subject: SubjectRef): Promise<TicketRow | undefined>;
  ticket(db: Queryable, ticketId: bigint, forUpdate?: boolean): Promise<TicketRow | undefined>;
  insertTicket(tx: Tx, t: { ticketId: bigint; subject: SubjectRef; content: Content; contentType: string; priority: number }): Promise<void>;
  /** Reopens a CLOSED ticket for a new round with fresh content. */
  reopenTicket(tx: Tx, ticketId: bigint, content: Content, priority: number): Promise<void>;
  addToTicket(tx: Tx, ticketId: bigint, priorityDelta: number): Promise<void>;
  reportBy(db: Queryable, ticketId: bigint, round: number, reporterId: bigint): Promise<ReportRow | undefined>;
  insertReport(tx: Tx, r: { reportId: bigint; ticketId: bigint; round: number; reporterId: bigint; reasonType: ReasonType; reasonText: string }): Promise<ReportRow>;
  reports(db: Queryable, ticketId: bigint, round: number, limit: number): Promise<ReportRow[]>;
  /** Claims the best claimable ticket of the queue for `holderId` (FOR UPDATE SKIP LOCKED). */
  claim(tx: Tx, queue: QueueFilter, holderId: bigint, leaseToken: string, leaseSeconds: number): Promise<bigint | undefined>;
  /** Extends a live lease held by (holder, token); false when not held. */
  renew(tx: Tx, ticketId: bigint, holderId: bigint, leaseToken: string, leaseSeconds: number): Promise<Date | undefined>;
  /** Ends a live lease held by (holder, token), the ticket back to its queue; false when not held. */
  release(tx: Tx, ticketId: bigint, holderId: bigint, leaseToken: string): Promise<boolean>;
  /** Sets a ticket's state after an action, ending any lease. */
  settle(tx: Tx, ticketId: bigint, state: ReviewState, escalated: boolean): Promise<void>;
  insertAction(tx: Tx, a: Omit<ActionRow, "reversedBy" | "createdAt">): Promise<ActionRow>;
  action(db: Queryable, actionId: bigint, forUpdate?: boolean): Promise<ActionRow | undefined>;
  markReversed(tx: Tx, actionId: bigint, by: bigint): Promise<void>;
  /** Standing actions whose expiry passed, oldest first. */
  dueActions(db: Queryable, limit: number): Promise<ActionRow[]>;
  reporterIds(db: Queryable, ticketId: bigint, round: number): Promise<bigint[]>;
  appendOperation(tx: Tx, op: Omit<OperationRow, "at">): Promise<void>;
  /** Inserts the appeal (duplicate key on a second one) and puts the ticket in the appeals queue. */
  insertAppeal(tx: Tx, a: { appealId: bigint; action: ActionRow; appellantId: bigint; text: string }): Promise<void>;
  /** Settles the pending appeal of `actionId`. */
  decideAppeal(tx: Tx, actionId: bigint, decidedActionId: bigint, overturned: boolean): Promise<void>;
  /** Newest first, below `beforeOpId` when given. */
  operations(db: Queryable, f: { ticketId: bigint; actorId: bigint; kind: string; beforeOpId?: bigint; limit: number }): Promise<OperationRow[]>;
  /** (claimed, acted) times of `reviewerId`'s actions in [start, end). */
  actionTimes(db: Queryable, reviewerId: bigint, start: Date, end: Date): Promise<Array<{ claimedAt: Date | null; actedAt: Date }>>;
  /** Decided appeals of `reviewerId`'s actions, and how many overturned them. */
  appealOutcomes(db: Queryable, reviewerId: bigint): Promise<{ decided: number; overturned: number }>;
}
