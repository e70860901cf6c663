/**
 * Chat's entities and the store interface the use cases depend on (store.ts implements
 * it on MariaDB). Ids are snowflakes (time-ordered), so "newer" is "larger".
 */
import type { LogEntry } from "#gen/oasis/chat/v1/chat_pb.ts";
import type { AllowIncoming, MemberStatus } from "#gen/oasis/chat/v1/chat_pb.ts";
import type { Queryable, Tx } from "#kit/mysql.ts";

/** Most members of a convo, the creator included. */
export const maxMembers = 10;

export interface ConvoRow {
  readonly convoId: bigint;
  readonly isGroup: boolean;
  readonly createdBy: bigint;
  readonly createdAt: Date;
}

export interface MemberRow {
  readonly convoId: bigint;
  readonly userId: bigint;
  readonly status: MemberStatus;
  readonly muted: boolean;
  /** False after the member left. */
  readonly active: boolean;
  readonly readMessageId: bigint;
  readonly unreadCount: number;
  readonly activityId: bigint;
  readonly lastMessageId: bigint;
}

/** What a message keeps of an image: no URLs (they are signed per read). */
export interface StoredImage {
  readonly mediaId: bigint;
  readonly width: number;
  readonly height: number;
  readonly blurhash: string;
}

export interface MessageRow {
  readonly convoId: bigint;
  readonly messageId: bigint;
  readonly senderId: bigint;
  readonly text: string;
  readonly media: readonly StoredImage[];
  readonly replyToMessageId: bigint;
  readonly createdAt: Date;
}

/** One log entry to append for one user (its cursor is assigned by the store). */
export interface LogWrite {
  readonly userId: bigint;
  readonly entry: LogEntry;
}

export interface InboxFilter {
  readonly status: MemberStatus | undefined;
  readonly unreadOnly: boolean;
  /** activity_id of the last convo of the previous page. */
  readonly before: bigint | undefined;
  readonly limit: number;
}

/** Everything chat stores; each write runs inside the caller's transaction. */
export interface ChatStore {
  convo(db: Queryable, convoId: bigint): Promise<ConvoRow | undefined>;
  /** The 1:1 convo of a pair, if any. */
  pairConvo(db: Queryable, a: bigint, b: bigint): Promise<bigint | undefined>;
  /** Inserts a convo and its members; false if the pair already has a 1:1 convo. */
  insertConvo(tx: Tx, convo: ConvoRow, members: ReadonlyArray<{ userId: bigint; status: MemberStatus }>): Promise<boolean>;
  /** Members of a convo (left ones too), by user id; `lock` takes their row locks. */
  members(db: Queryable, convoId: bigint, lock?: boolean): Promise<MemberRow[]>;
  /** Members of several convos (active only), for lists. */
  activeMemberIds(db: Queryable, convoIds: readonly bigint[]): Promise<Map<bigint, bigint[]>>;
  updateMember(tx: Tx, convoId: bigint, userId: bigint, set: Partial<Pick<MemberRow, "status" | "muted" | "active" | "readMessageId" | "unreadCount">>): Promise<void>;
  insertMessage(tx: Tx, m: MessageRow): Promise<void>;
  /** After a message: others' unread +1, everyone's activity, the sender's read mark. */
  recordMessage(tx: Tx, m: MessageRow): Promise<void>;
  /** Moves a read mark forward (never back) and recounts the member's unread. */
  markRead(tx: Tx, convoId: bigint, userId: bigint, upTo: bigint): Promise<{ previous: bigint; readMessageId: bigint; unreadCount: number }>;
  message(db: Queryable, convoId: bigint, messageId: bigint): Promise<MessageRow | undefined>;
  latestMessageId(db: Queryable, convoId: bigint): Promise<bigint>;
  /** Messages newest first below `before`, without those `viewer` hid. */
  messages(db: Queryable, convoId: bigint, viewer: bigint, before: bigint | undefined, limit: number): Promise<MessageRow[]>;
  messagesByIds(db: Queryable, keys: ReadonlyArray<[bigint, bigint]>): Promise<Map<bigint, MessageRow>>;
  hide(tx: Tx, userId: bigint, convoId: bigint, messageId: bigint): Promise<boolean>;
  reactions(db: Queryable, messageIds: readonly bigint[]): Promise<Map<bigint, Array<{ userId: bigint; value: string }>>>;
  /** Adds a reaction unless present or the message holds `max`; "full" when at the cap. */
  addReaction(tx: Tx, messageId: bigint, userId: bigint, value: string, max: number): Promise<"added" | "present" | "full">;
  removeReaction(tx: Tx, messageId: bigint, userId: bigint, value: string): Promise<boolean>;
  /** Appends entries to users' logs; returns them with their cursors, in order. */
  appendLog(tx: Tx, writes: readonly LogWrite[]): Promise<Array<{ userId: bigint; entry: LogEntry }>>;
  /** A user's entries after `after`, oldest first. */
  logSince(db: Queryable, userId: bigint, after: bigint, limit: number): Promise<LogEntry[]>;
  /** The user's newest cursor (0 before any entry). */
  logHead(db: Queryable, userId: bigint): Promise<bigint>;
  inbox(db: Queryable, userId: bigint, filter: InboxFilter): Promise<Array<MemberRow & { convo: ConvoRow }>>;
  member(db: Queryable, convoId: bigint, userId: bigint): Promise<(MemberRow & { convo: ConvoRow }) | undefined>;
  unreadCounts(db: Queryable, userId: bigint): Promise<Map<bigint, number>>;
  allowIncoming(db: Queryable, userIds: readonly bigint[]): Promise<Map<bigint, AllowIncoming>>;
  putAllowIncoming(db: Queryable, userId: bigint, value: AllowIncoming): Promise<void>;
  /** Unread counters that differ from a recount: [convo, user, stored, recounted]. */
  unreadDrift(db: Queryable): Promise<Array<[bigint, bigint, number, number]>>;
  /** Sets every counter to its recount; returns how many changed. */
  reconcileUnread(db: Queryable): Promise<number>;
}
