/**
 * Graph's entities and the store's interface (store.ts implements it over MySQL).
 * Writes report whether a row really changed, so use cases adjust counts and emit
 * events only for real changes.
 */
import type { BatchedTx, Queryable, Statement } from "#kit/mysql.ts";

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
  ): Promise<{ blocked: true } | { blocked: false; created: boolean; flags: Set<RelationFlag> }>;
}
