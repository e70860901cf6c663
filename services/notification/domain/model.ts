/** Notification's entities and the store's interface (store.ts implements it over MySQL). */
import type { BatchedTx, Queryable, Statement } from "#kit/mysql.ts";
import type { Notification, NotificationKind } from "#gen/oasis/notification/v1/notification_pb.ts";

/** One thing to tell one user. */
export interface Delivery {
  readonly recipientId: bigint;
  readonly actorId: bigint;
  readonly kind: NotificationKind;
  /** Entries with the same key merge while unread ("like:<post>", "follow"...). */
  readonly groupKey: string;
  readonly postId: bigint;
  readonly commentId: bigint;
  readonly text: string;
  /**
   * What the recipient is to the actor as the event says it was when it was written
   * (follow_created's followee_muting, post_liked's author_muting): no block either way
   * then, and whether the recipient mutes the actor. When set (and
   * OASIS_NOTIFICATION_EVENT_RELATIONS is on) wanted() asks graph nothing for this
   * delivery; absent, graph is asked as the recipient.
   */
  readonly knownRelation?: { readonly muting: boolean };
}

/** What notification's use cases need of the database; every method runs on `db` (a pool or a transaction). */
export interface NotificationStore {
  /**
   * Records a delivery: joins the open group or opens one. Returns the new notification id
   * when something changed (a new entry, or a new actor in a group), else undefined.
   */
  deliver(db: Queryable, d: Delivery, nextId: () => bigint): Promise<bigint | undefined>;
  /**
   * `deliver` for an event's deliveries (to distinct groups) in two round trips of a
   * batched transaction, `claim` (the event id) sent first; returns [recipient, new
   * notification id] of each delivery that changed something.
   */
  deliverBatched(tx: BatchedTx, claim: Statement, ds: readonly Delivery[], nextId: () => bigint): Promise<Array<[bigint, bigint]>>;
  /**
   * The deliveries of several events in two round trips of a batched transaction,
   * `claim` (all their event ids) sent first; groups may repeat. Returns, per delivery,
   * the new notification id when it changed something.
   */
  deliverGroup(tx: BatchedTx, claim: Statement, ds: readonly Delivery[], nextId: () => bigint): Promise<Array<bigint | undefined>>;
  /**
   * deliverGroup in a fixed number of statements per commit (store.ts deliverGroupSet);
   * a changed delivery gets its group's final notification id (one per group).
   */
  deliverGroupSet(tx: BatchedTx, claim: Statement, ds: readonly Delivery[], nextId: () => bigint): Promise<Array<bigint | undefined>>;
  /** The recipient's entries, newest first, below `before` (keyset). */
  inbox(db: Queryable, recipientId: bigint, before: bigint | undefined, limit: number): Promise<Notification[]>;
  byNotificationIds(db: Queryable, recipientId: bigint, ids: readonly bigint[]): Promise<Notification[]>;
  unreadCount(db: Queryable, recipientId: bigint): Promise<bigint>;
  /** Marks the recipient's entries up to `upTo` read (0: all). */
  markRead(db: Queryable, recipientId: bigint, upTo: bigint): Promise<void>;
}
