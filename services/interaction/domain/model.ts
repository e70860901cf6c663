/**
 * Interaction's entities and the store's interface (store.ts implements it over MySQL).
 * Writers report whether a row changed; counters move in the same transaction.
 */
import type { BatchedTx, Queryable, Statement } from "#kit/mysql.ts";
import type { ConditionalEvent } from "#kit/outbox.ts";

export interface Counts {
  readonly likes: bigint;
  readonly comments: bigint;
  readonly refers: bigint;
  /** Drops tipped to the post (sum of its tips rows), drops. */
  readonly dropsReceived: bigint;
  /** Version: increases with every change. */
  readonly v: bigint;
}

export type CountField = "likes" | "comments" | "refers";

export interface CommentRow {
  readonly commentId: bigint;
  readonly postId: bigint;
  readonly authorId: bigint;
  readonly parentCommentId: bigint;
  readonly text: string;
  readonly mentionUserIds: bigint[];
  readonly createdAt: Date;
  readonly deleted: boolean;
  /** Taken down by moderation (until reversed): hidden like a deleted comment. */
  readonly takenDown?: boolean;
}

/** One like as listed. */
export interface LikerRow {
  readonly userId: bigint;
  /** The like's time-ordered id (keyset cursor). */
  readonly id: bigint;
  readonly createdAt: Date;
}

/** What interaction's use cases need of the database; every method runs on `db` (a pool or a transaction). */
export interface InteractionStore {
  /** Adds `delta` to one counter; returns all counters afterwards (row locked until commit). */
  bumpCount(db: Queryable, postId: bigint, field: CountField, delta: 1 | -1): Promise<Counts>;
  countsOf(db: Queryable, ids: readonly bigint[], forUpdate?: boolean): Promise<Map<bigint, Counts>>;
  recount(db: Queryable, ids: readonly bigint[]): Promise<Map<bigint, Omit<Counts, "v">>>;
  countedPostsAfter(db: Queryable, afterId: bigint, limit: number): Promise<bigint[]>;
  setCounts(db: Queryable, postId: bigint, c: Omit<Counts, "v">): Promise<Counts>;
  addTip(db: Queryable, transferId: bigint, postId: bigint, amount: bigint): Promise<Counts | undefined>;
  insertLike(db: Queryable, postId: bigint, userId: bigint, id: bigint): Promise<boolean>;
  deleteLike(db: Queryable, postId: bigint, userId: bigint): Promise<boolean>;
  likersPage(db: Queryable, postId: bigint, beforeId: bigint | undefined, limit: number): Promise<LikerRow[]>;
  likedBy(db: Queryable, userId: bigint, limit: number): Promise<bigint[]>;
  referredBy(db: Queryable, userId: bigint, limit: number): Promise<bigint[]>;
  insertComment(db: Queryable, c: Omit<CommentRow, "deleted">): Promise<void>;
  commentById(db: Queryable, id: bigint, forUpdate?: boolean): Promise<CommentRow | undefined>;
  markCommentDeleted(db: Queryable, id: bigint): Promise<boolean>;
  commentsPage(db: Queryable, postId: bigint, parent: bigint, afterId: bigint, limit: number): Promise<CommentRow[]>;
  repliesOf(db: Queryable, parents: readonly bigint[], perParent: number): Promise<{ replies: CommentRow[]; counts: Map<bigint, number> }>;
  upsertPostMeta(db: Queryable, postId: bigint, authorId: bigint): Promise<void>;
  markPostDeleted(db: Queryable, postId: bigint, authorId: bigint): Promise<void>;
  insertRefer(db: Queryable, postId: bigint, referrerPostId: bigint, userId: bigint): Promise<boolean>;
  deleteRefer(db: Queryable, postId: bigint, referrerPostId: bigint): Promise<boolean>;
  /** The post's author as recorded in posts_meta (0 when the post was never seen). */
  postAuthor(db: Queryable, postId: bigint): Promise<bigint>;
  /**
   * A like in one round trip: the like row, and only when it is new the counter and the
   * `event` outbox row, then COMMIT. Counters after the like, or undefined if it existed.
   */
  likeBatched(tx: BatchedTx, postId: bigint, userId: bigint, id: bigint, event: Statement): Promise<Counts | undefined>;
  /**
   * Likes of several callers in one transaction of one round trip (store.ts
   * likeGroupPlan, for kit/tx-batcher.ts): each as likeBatched, the counters of all
   * their posts moved in one statement; one outcome per like, in order (the post's
   * counters after the batch if the like is new, undefined if it existed).
   */
  likeGroupPlan(likes: readonly GroupLike[], rows?: boolean): { statements: Statement[]; outcomes(results: readonly unknown[]): Array<Counts | undefined> };
}

/** One like of a group commit (store.ts likeGroupPlan). */
export interface GroupLike {
  readonly postId: bigint;
  readonly userId: bigint;
  /** The like's id. */
  readonly id: bigint;
  /**
   * post_liked's outbox row (kit/outbox.ts ConditionalEvent), built in the caller's call context, inserted only if
   * the like is new: `@oasis_created = 1` (as likeBatched's `event`), or, for `rows`, a
   * condition on the like's own row (`EXISTS(SELECT 1 FROM likes WHERE post_id = ? AND
   * user_id = ? AND id = ?)`, which likeBatched's order of statements also satisfies).
   */
  readonly event: ConditionalEvent;
}
