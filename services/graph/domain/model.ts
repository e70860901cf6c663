/**
 * Graph's entities and the store's interface (store.ts implements it over MySQL).
 * Writes report whether a row really changed, so use cases adjust counts and emit
 * events only for real changes.
 */
import type { BatchedTx, Queryable, Statement } from "#kit/mysql.ts";
import type { ConditionalEvent } from "#kit/outbox.ts";

/** A relation of a viewer towards another user, as stored. */
/** "mutedBy" (the other mutes the viewer) is read only inside a follow's transaction, for follow_created; never shown to the viewer. */
export type RelationFlag = "following" | "followedBy" | "requested" | "requestedBy" | "blocking" | "blockedBy" | "muting" | "mutedBy";

/** One follow (or follow request) edge as listed. */
export interface EdgeRow {
  readonly userId: bigint;
  /** The edge's time-ordered id (keyset cursor). */
  readonly id: bigint;
  readonly createdAt: Date;
}

/** Follower and following counts of one user. */
export interface CountPair {
  readonly followers: bigint;
  readonly following: bigint;
}

/** What graph's use cases need of the database; every method runs on `db` (a pool or a transaction). */
export interface GraphStore {
  upsertAccount(db: Queryable, userId: bigint, isPrivate: boolean, updatedAt: Date): Promise<void>;
  accountsByIds(db: Queryable, ids: readonly bigint[]): Promise<Map<bigint, boolean>>;
  insertFollow(db: Queryable, followerId: bigint, followeeId: bigint, id: bigint, now: Date): Promise<boolean>;
  deleteFollow(db: Queryable, followerId: bigint, followeeId: bigint): Promise<boolean>;
  addToCounts(db: Queryable, followerId: bigint, followeeId: bigint, delta: 1 | -1): Promise<void>;
  isFollowing(db: Queryable, followerId: bigint, followeeId: bigint): Promise<boolean>;
  insertRequest(db: Queryable, requesterId: bigint, targetId: bigint, id: bigint, now: Date): Promise<boolean>;
  deleteRequest(db: Queryable, requesterId: bigint, targetId: bigint): Promise<boolean>;
  insertBlock(db: Queryable, blockerId: bigint, blockedId: bigint, now: Date): Promise<boolean>;
  deleteBlock(db: Queryable, blockerId: bigint, blockedId: bigint): Promise<boolean>;
  /** True when either user blocks the other; locks both block rows (or their gap). */
  blockedEitherWayForUpdate(db: Queryable, a: bigint, b: bigint): Promise<boolean>;
  insertMute(db: Queryable, muterId: bigint, mutedId: bigint, now: Date): Promise<boolean>;
  deleteMute(db: Queryable, muterId: bigint, mutedId: bigint): Promise<boolean>;
  relationFlags(db: Queryable, viewer: bigint, ids: readonly bigint[]): Promise<Map<bigint, Set<RelationFlag>>>;
  relationsPage(db: Queryable, viewer: bigint, afterId: bigint, limit: number): Promise<Array<{ userId: bigint; flags: Set<RelationFlag> }>>;
  edgeList(db: Queryable, kind: "followers" | "following", userId: bigint, limit: number): Promise<Array<{ id: bigint; userId: bigint }>>;
  smallRelations(db: Queryable, userId: bigint): Promise<Map<RelationFlag, Set<bigint>>>;
  pairFlags(db: Queryable, viewer: bigint, target: bigint): Promise<Set<RelationFlag>>;
  edgePage(db: Queryable, direction: "followers" | "following", userId: bigint, beforeId: bigint | undefined, limit: number): Promise<EdgeRow[]>;
  mutualPage(db: Queryable, userId: bigint, beforeId: bigint | undefined, limit: number): Promise<EdgeRow[]>;
  requestsPage(db: Queryable, targetId: bigint, beforeId: bigint | undefined, limit: number): Promise<EdgeRow[]>;
  followerIds(db: Queryable, userId: bigint, afterId?: bigint, limit?: number): Promise<bigint[]>;
  followingIds(db: Queryable, userId: bigint, afterId: bigint, limit: number): Promise<bigint[]>;
  countsByIds(db: Queryable, ids: readonly bigint[]): Promise<Map<bigint, CountPair>>;
  recount(db: Queryable, userId: bigint): Promise<CountPair>;
  /**
   * Follower -> followee (a public account) in two round trips of one batched
   * transaction: locks the block rows, reads the pair's flags, then inserts the edge and,
   * only when it is new, the counts and `event(mutual, followeeMuting)`'s outbox row
   * (followeeMuting: the followee mutes the follower). Blocked: nothing is
   * written. Returns the flags after the follow.
   */
  followBatched(
    tx: BatchedTx,
    followerId: bigint,
    followeeId: bigint,
    id: bigint,
    now: Date,
    event: (mutual: boolean, followeeMuting: boolean) => Statement,
  ): Promise<FollowOutcome>;
  /**
   * followBatched in one round trip (store.ts followOneTrip): blocked, the edge, the
   * counts and the event decided in SQL; `event(pick)` stores the variant of follow_created
   * whose index the SQL expression `pick` gives (1 mutual + 2 followee muting).
   */
  followOneTrip(
    tx: BatchedTx,
    followerId: bigint,
    followeeId: bigint,
    id: bigint,
    now: Date,
    event: (pick: string) => Statement,
  ): Promise<FollowOutcome>;
  /**
   * Public follows of several callers in one transaction of one round trip (store.ts
   * followGroupPlan, for kit/tx-batcher.ts): each as followOneTrip decides it, the
   * counts of all new edges in one statement; one outcome per follow, in order.
   */
  followGroupPlan(follows: readonly GroupFollow[]): { statements: Statement[]; outcomes(results: readonly unknown[]): FollowOutcome[] };
  /** The first round trip of a follow import (store.ts followManyReads): the locks and the flags. */
  followManyReads(followerId: bigint, ids: readonly bigint[]): Statement[];
  /**
   * The writes of a follow import from those reads (store.ts followManyPlan): the first
   * blocked target, or the statements and one outcome per target in request order.
   */
  followManyPlan(
    followerId: bigint,
    targets: readonly FollowTarget[],
    reads: readonly unknown[],
    nextId: () => bigint,
    now: Date,
    events: FollowManyEvents,
  ): { blocked: bigint } | { blocked: undefined; statements: Statement[]; outcomes: FollowManyOutcome[] };
}

/** A follow of a public account: refused (either blocks the other), or done (`created`: the edge is new) with the pair's flags after it. */
export type FollowOutcome = { blocked: true } | { blocked: false; created: boolean; flags: Set<RelationFlag> };

/** One public follow of a group commit (store.ts followGroupPlan). */
export interface GroupFollow {
  readonly followerId: bigint;
  readonly followeeId: bigint;
  /** The edge's id. */
  readonly id: bigint;
  readonly now: Date;
  /**
   * follow_created's outbox row (kit/outbox.ts ConditionalEvent), built in the caller's
   * call context: its four variants picked by `@oasis_flags` (1 mutual + 2 followee
   * muting), inserted only
   * if the edge's own row is there (`EXISTS(SELECT 1 FROM follows WHERE follower_id = ?
   * AND followee_id = ? AND id = ?)`, which followOneTrip's order satisfies too).
   */
  readonly event: ConditionalEvent;
}

/** One target of a follow import: its id and whether the account is private. */
export interface FollowTarget {
  readonly userId: bigint;
  readonly isPrivate: boolean;
}

/** The outbox statements of a follow import's events (kit/outbox.ts statement). */
export interface FollowManyEvents {
  /** follow_created of a new follow, inserted only if `when` (an SQL condition with its params) holds. */
  created(followeeId: bigint, mutual: boolean, followeeMuting: boolean, when: Statement): Statement;
  /** follow_requested of a new request to a private account, inserted only if `when` holds. */
  requested(targetId: bigint, when: Statement): Statement;
}

/** What a follow import decided for one target. */
export interface FollowManyOutcome {
  readonly userId: bigint;
  /** "following" (a public account, or one already followed) or "requested". */
  readonly state: "following" | "requested";
  /** The pair's flags after the write (as pairFlags, plus the follow or request). */
  readonly flags: Set<RelationFlag>;
  /** This call tried to write a row for this target (a follow or a request it did not find). */
  readonly changed: boolean;
}
