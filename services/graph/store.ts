/**
 * Graph's SQL (database `oasis_graph`): implements domain/model.ts GraphStore. Writes report whether a row really changed, so
 * callers adjust counts and emit events only for real changes: that is what keeps counts
 * exact and events free of duplicates under concurrent, repeated calls.
 */
import { select, write, type BatchedTx, type Queryable, type Statement } from "#kit/mysql.ts";
import { insertEvents } from "#kit/outbox.ts";
import type { EdgeRow, FollowManyEvents, FollowManyOutcome, FollowOutcome, FollowTarget, GraphStore, GroupFollow, RelationFlag } from "./domain/model.ts";

export type { EdgeRow, RelationFlag };

type Raw = { user_id: string; id: string; created_at: Date };
const toEdge = (r: Raw): EdgeRow => ({ userId: BigInt(r.user_id), id: BigInt(r.id), createdAt: r.created_at });

/** Records an account's private flag, ignoring updates older than what is stored. */
export async function upsertAccount(db: Queryable, userId: bigint, isPrivate: boolean, updatedAt: Date): Promise<void> {
  await write(
    db,
    `INSERT INTO accounts (user_id, private, updated_at) VALUES (?, ?, ?)
     ON DUPLICATE KEY UPDATE
       private = IF(VALUES(updated_at) >= updated_at, VALUES(private), private),
       updated_at = GREATEST(updated_at, VALUES(updated_at))`,
    [userId, isPrivate ? 1 : 0, updatedAt],
  );
}

/** Private flags of known accounts. */
export async function accountsByIds(db: Queryable, ids: readonly bigint[]): Promise<Map<bigint, boolean>> {
  if (ids.length === 0) return new Map();
  const rows = await select<{ user_id: string; private: number }>(db, "SELECT user_id, private FROM accounts WHERE user_id IN (?)", [ids]);
  return new Map(rows.map((r) => [BigInt(r.user_id), r.private === 1]));
}

/** Inserts follower -> followee; true if it did not exist. */
export async function insertFollow(db: Queryable, followerId: bigint, followeeId: bigint, id: bigint, now: Date): Promise<boolean> {
  return (await write(db, "INSERT IGNORE INTO follows (follower_id, followee_id, id, created_at) VALUES (?, ?, ?, ?)", [followerId, followeeId, id, now])) === 1;
}

/** Deletes follower -> followee; true if it existed. */
export async function deleteFollow(db: Queryable, followerId: bigint, followeeId: bigint): Promise<boolean> {
  return (await write(db, "DELETE FROM follows WHERE follower_id = ? AND followee_id = ?", [followerId, followeeId])) === 1;
}

/** Adds `delta` (+1/-1) to followee's followers and follower's following. */
export async function addToCounts(db: Queryable, followerId: bigint, followeeId: bigint, delta: 1 | -1): Promise<void> {
  await write(
    db,
    `INSERT INTO counts (user_id, followers, following) VALUES (?, ?, ?), (?, ?, ?)
     ON DUPLICATE KEY UPDATE followers = followers + VALUES(followers), following = following + VALUES(following)`,
    // Rows in ascending user id: two writers on the same pair lock them in one order.
    followeeId < followerId ? [followeeId, delta, 0, followerId, 0, delta] : [followerId, 0, delta, followeeId, delta, 0],
  );
}

export async function isFollowing(db: Queryable, followerId: bigint, followeeId: bigint): Promise<boolean> {
  return (await select(db, "SELECT 1 FROM follows WHERE follower_id = ? AND followee_id = ?", [followerId, followeeId])).length > 0;
}

export async function insertRequest(db: Queryable, requesterId: bigint, targetId: bigint, id: bigint, now: Date): Promise<boolean> {
  return (await write(db, "INSERT IGNORE INTO follow_requests (requester_id, target_id, id, created_at) VALUES (?, ?, ?, ?)", [requesterId, targetId, id, now])) === 1;
}

export async function deleteRequest(db: Queryable, requesterId: bigint, targetId: bigint): Promise<boolean> {
  return (await write(db, "DELETE FROM follow_requests WHERE requester_id = ? AND target_id = ?", [requesterId, targetId])) === 1;
}

export async function insertBlock(db: Queryable, blockerId: bigint, blockedId: bigint, now: Date): Promise<boolean> {
  return (await write(db, "INSERT IGNORE INTO blocks (blocker_id, blocked_id, created_at) VALUES (?, ?, ?)", [blockerId, blockedId, now])) === 1;
}

export async function deleteBlock(db: Queryable, blockerId: bigint, blockedId: bigint): Promise<boolean> {
  return (await write(db, "DELETE FROM blocks WHERE blocker_id = ? AND blocked_id = ?", [blockerId, blockedId])) === 1;
}

/**
 * Locks the block rows between two users in either direction (existing rows, or the
 * gaps where they would go), so a concurrent Block and Follow serialize: a follow can
 * never be created after a block that it did not see.
 */
export async function blockedEitherWayForUpdate(db: Queryable, a: bigint, b: bigint): Promise<boolean> {
  const rows = await select(
    db,
    "SELECT 1 FROM blocks WHERE (blocker_id = ? AND blocked_id = ?) OR (blocker_id = ? AND blocked_id = ?) FOR UPDATE",
    [a, b, b, a],
  );
  return rows.length > 0;
}

export async function insertMute(db: Queryable, muterId: bigint, mutedId: bigint, now: Date): Promise<boolean> {
  return (await write(db, "INSERT IGNORE INTO mutes (muter_id, muted_id, created_at) VALUES (?, ?, ?)", [muterId, mutedId, now])) === 1;
}

export async function deleteMute(db: Queryable, muterId: bigint, mutedId: bigint): Promise<boolean> {
  return (await write(db, "DELETE FROM mutes WHERE muter_id = ? AND muted_id = ?", [muterId, mutedId])) === 1;
}

/** Relationship flags of `viewer` towards each of `ids`, in one round trip. */
export async function relationFlags(db: Queryable, viewer: bigint, ids: readonly bigint[]): Promise<Map<bigint, Set<RelationFlag>>> {
  const out = new Map<bigint, Set<RelationFlag>>();
  if (ids.length === 0) return out;
  const rows = await select<{ k: RelationFlag; id: string }>(
    db,
    `SELECT 'following' AS k, followee_id AS id FROM follows WHERE follower_id = ? AND followee_id IN (?)
     UNION ALL SELECT 'followedBy', follower_id FROM follows WHERE followee_id = ? AND follower_id IN (?)
     UNION ALL SELECT 'requested', target_id FROM follow_requests WHERE requester_id = ? AND target_id IN (?)
     UNION ALL SELECT 'requestedBy', requester_id FROM follow_requests WHERE target_id = ? AND requester_id IN (?)
     UNION ALL SELECT 'blocking', blocked_id FROM blocks WHERE blocker_id = ? AND blocked_id IN (?)
     UNION ALL SELECT 'blockedBy', blocker_id FROM blocks WHERE blocked_id = ? AND blocker_id IN (?)
     UNION ALL SELECT 'muting', muted_id FROM mutes WHERE muter_id = ? AND muted_id IN (?)`,
    [viewer, ids, viewer, ids, viewer, ids, viewer, ids, viewer, ids, viewer, ids, viewer, ids],
  );
  for (const r of rows) {
    const id = BigInt(r.id);
    let set = out.get(id);
    if (!set) out.set(id, (set = new Set()));
    set.add(r.k);
  }
  return out;
}

/**
 * One page of every relation `viewer` has (ListRelationships): the users with at least
 * one flag, ascending by user id, above `afterId` (keyset), at most `limit` users, each
 * with all its flags. One statement; each branch is a range on a key led by the viewer's
 * column (follows' primary key and follows_followers, follow_requests' primary key and
 * follow_requests_target, blocks' primary key and blocks_blocked, mutes' primary key).
 */
export async function relationsPage(db: Queryable, viewer: bigint, afterId: bigint, limit: number): Promise<Array<{ userId: bigint; flags: Set<RelationFlag> }>> {
  const rows = await select<{ id: string; ks: string }>(
    db,
    `SELECT id, GROUP_CONCAT(k) AS ks FROM (
       SELECT 'following' AS k, followee_id AS id FROM follows WHERE follower_id = ? AND followee_id > ?
       UNION ALL SELECT 'followedBy', follower_id FROM follows WHERE followee_id = ? AND follower_id > ?
       UNION ALL SELECT 'requested', target_id FROM follow_requests WHERE requester_id = ? AND target_id > ?
       UNION ALL SELECT 'requestedBy', requester_id FROM follow_requests WHERE target_id = ? AND requester_id > ?
       UNION ALL SELECT 'blocking', blocked_id FROM blocks WHERE blocker_id = ? AND blocked_id > ?
       UNION ALL SELECT 'blockedBy', blocker_id FROM blocks WHERE blocked_id = ? AND blocker_id > ?
       UNION ALL SELECT 'muting', muted_id FROM mutes WHERE muter_id = ? AND muted_id > ?
     ) r GROUP BY id ORDER BY id LIMIT ?`,
    [viewer, afterId, viewer, afterId, viewer, afterId, viewer, afterId, viewer, afterId, viewer, afterId, viewer, afterId, limit],
  );
  return rows.map((r) => ({ userId: BigInt(r.id), flags: new Set(r.ks.split(",") as RelationFlag[]) }));
}

/** All (or the first `limit`) followers or followees of `userId`, newest edge first. */
export async function edgeList(db: Queryable, kind: "followers" | "following", userId: bigint, limit: number): Promise<Array<{ id: bigint; userId: bigint }>> {
  const [col, other] = kind === "followers" ? ["followee_id", "follower_id"] : ["follower_id", "followee_id"];
  const rows = await select<{ id: string; u: string }>(db, `SELECT id, ${other} AS u FROM follows WHERE ${col} = ? ORDER BY id DESC LIMIT ?`, [
    userId,
    limit,
  ]);
  return rows.map((r) => ({ id: BigInt(r.id), userId: BigInt(r.u) }));
}

/** The small relation sets of one user: requests both ways, blocks both ways, mutes. */
export async function smallRelations(db: Queryable, userId: bigint): Promise<Map<RelationFlag, Set<bigint>>> {
  const rows = await select<{ k: RelationFlag; id: string }>(
    db,
    `SELECT 'requested' AS k, target_id AS id FROM follow_requests WHERE requester_id = ?
     UNION ALL SELECT 'requestedBy', requester_id FROM follow_requests WHERE target_id = ?
     UNION ALL SELECT 'blocking', blocked_id FROM blocks WHERE blocker_id = ?
     UNION ALL SELECT 'blockedBy', blocker_id FROM blocks WHERE blocked_id = ?
     UNION ALL SELECT 'muting', muted_id FROM mutes WHERE muter_id = ?`,
    [userId, userId, userId, userId, userId],
  );
  const out = new Map<RelationFlag, Set<bigint>>();
  for (const r of rows) (out.get(r.k) ?? out.set(r.k, new Set()).get(r.k)!).add(BigInt(r.id));
  return out;
}

/**
 * Inside a write transaction: what the viewer's relationship to `target` looks like
 * apart from the follow the caller just handled, in one statement.
 */
export async function pairFlags(db: Queryable, viewer: bigint, target: bigint): Promise<Set<RelationFlag>> {
  const [r] = await select<Record<string, number>>(db, pairFlagsSql, pairFlagsParams(viewer, target));
  return flagSet(r!);
}

const pairFlagsSql = `SELECT
       EXISTS(SELECT 1 FROM follows WHERE follower_id = ? AND followee_id = ?) AS following,
       EXISTS(SELECT 1 FROM follows WHERE follower_id = ? AND followee_id = ?) AS followedBy,
       EXISTS(SELECT 1 FROM follow_requests WHERE requester_id = ? AND target_id = ?) AS requested,
       EXISTS(SELECT 1 FROM follow_requests WHERE requester_id = ? AND target_id = ?) AS requestedBy,
       EXISTS(SELECT 1 FROM blocks WHERE blocker_id = ? AND blocked_id = ?) AS blocking,
       EXISTS(SELECT 1 FROM blocks WHERE blocker_id = ? AND blocked_id = ?) AS blockedBy,
       EXISTS(SELECT 1 FROM mutes WHERE muter_id = ? AND muted_id = ?) AS muting,
       EXISTS(SELECT 1 FROM mutes WHERE muter_id = ? AND muted_id = ?) AS mutedBy`;
const pairFlagsParams = (viewer: bigint, target: bigint) => [viewer, target, target, viewer, viewer, target, target, viewer, viewer, target, target, viewer, viewer, target, target, viewer];
const flagSet = (r: Record<string, number>) => new Set(Object.entries(r).filter(([, v]) => Number(v) === 1).map(([k]) => k as RelationFlag));

/**
 * Both users' counts one more (the follower's following, the followee's followers) if the
 * batch's `@oasis_created` is 1. The two rows in ascending user id, so A -> B and B -> A
 * at once (a friendship loaded both ways) lock them in the same order instead of
 * deadlocking.
 */
function countsOfNewEdge(followerId: bigint, followeeId: bigint): Statement {
  return {
    sql: `INSERT INTO counts (user_id, followers, following)
          SELECT ?, ?, ? FROM DUAL WHERE @oasis_created = 1 UNION ALL SELECT ?, ?, ? FROM DUAL WHERE @oasis_created = 1
          ON DUPLICATE KEY UPDATE followers = counts.followers + VALUES(followers), following = counts.following + VALUES(following)`,
    params: followeeId < followerId ? [followeeId, 1, 0, followerId, 0, 1] : [followerId, 0, 1, followeeId, 1, 0],
  };
}

/**
 * Follower -> followee (a public account) in two round trips of one transaction
 * (kit/mysql.ts withBatchedTransaction), where `blockedEitherWayForUpdate`,
 * `insertFollow`, `addToCounts`, `pairFlags` and the outbox insert take six plus BEGIN
 * and COMMIT, with the same effect:
 * 1. lock the block rows between the two (as blockedEitherWayForUpdate) and read the
 *    pair's flags; blocked: nothing is written (the caller's function returns and the
 *    transaction rolls back);
 * 2. INSERT IGNORE the edge, and only if it was new (ROW_COUNT() = 1, kept in a session
 *    variable) add to both counts and insert `event(mutual, followeeMuting)`'s outbox
 *    row (followeeMuting: the followee mutes the follower); COMMIT.
 * A repeated follow finds the edge and changes nothing (no count, no event).
 * Returns the pair's flags after the follow (the read of step 1 plus `following`).
 */
export async function followBatched(
  tx: BatchedTx,
  followerId: bigint,
  followeeId: bigint,
  id: bigint,
  now: Date,
  event: (mutual: boolean, followeeMuting: boolean) => Statement,
): Promise<FollowOutcome> {
  const [locked, flagRows] = (await tx.run([
    { sql: "SELECT 1 FROM blocks WHERE (blocker_id = ? AND blocked_id = ?) OR (blocker_id = ? AND blocked_id = ?) FOR UPDATE", params: [followerId, followeeId, followeeId, followerId] },
    { sql: pairFlagsSql, params: pairFlagsParams(followerId, followeeId) },
  ])) as [unknown[], Array<Record<string, number>>];
  if (locked.length > 0) return { blocked: true };
  const flags = flagSet(flagRows[0]!);
  const results = await tx.run(
    [
      { sql: "INSERT IGNORE INTO follows (follower_id, followee_id, id, created_at) VALUES (?, ?, ?, ?)", params: [followerId, followeeId, id, now] },
      { sql: "SET @oasis_created := ROW_COUNT()" },
      countsOfNewEdge(followerId, followeeId),
      event(flags.has("followedBy"), flags.has("mutedBy")),
      { sql: "SELECT @oasis_created AS created" },
    ],
    { commit: true },
  );
  const created = Number((results[4] as Array<{ created: number | string }>)[0]!.created) === 1;
  flags.add("following");
  return { blocked: false, created, flags };
}

/**
 * `followBatched` in one round trip (OASIS_GRAPH_ONE_TRIP_FOLLOW; design note 57): the
 * block rows locked as before and the pair's flags read (both returned, so the caller
 * knows blocked and the response's flags), then, decided in SQL from what the same
 * batch read after the lock: whether either blocks the other (`@oasis_free`), whether
 * the followee follows the follower and mutes them (`@oasis_flags`: 1 mutual, 2 muting,
 * the index of `event`'s variant, kit/outbox.ts statementOf); the edge by INSERT IGNORE
 * only if free, both counts and the event only if the edge is new; COMMIT. A blocked
 * pair writes nothing (the transaction commits empty, its locks released as a rollback
 * would). `event(pick)` is the outbox statement choosing its payload by the SQL `pick`.
 * The pair's flags are read once (pairFlagsKeptSql), and the same statement keeps what
 * the writes decide by (design note 61).
 */
export async function followOneTrip(
  tx: BatchedTx,
  followerId: bigint,
  followeeId: bigint,
  id: bigint,
  now: Date,
  event: (pick: string) => Statement,
): Promise<FollowOutcome> {
  const eitherWay = "(blocker_id = ? AND blocked_id = ?) OR (blocker_id = ? AND blocked_id = ?)";
  const results = await tx.run(
    [
      { sql: `SELECT 1 FROM blocks WHERE ${eitherWay} FOR UPDATE`, params: [followerId, followeeId, followeeId, followerId] },
      { sql: pairFlagsKeptSql, params: pairFlagsParams(followerId, followeeId) },
      { sql: "INSERT IGNORE INTO follows (follower_id, followee_id, id, created_at) SELECT ?, ?, ?, ? FROM DUAL WHERE @oasis_free", params: [followerId, followeeId, id, now] },
      { sql: "SET @oasis_created := ROW_COUNT()" },
      countsOfNewEdge(followerId, followeeId),
      event("@oasis_flags"),
      { sql: "SELECT @oasis_created AS created" },
    ],
    { commit: true },
  );
  if ((results[0] as unknown[]).length > 0) return { blocked: true };
  const flags = flagSet(stripKept((results[1] as Array<Record<string, number>>)[0]!));
  const created = Number((results.at(-1) as Array<{ created: number | string }>)[0]!.created) === 1;
  flags.add("following");
  return { blocked: false, created, flags };
}

/**
 * `pairFlagsSql` that also keeps what followOneTrip decides by: `@oasis_free` (neither
 * blocks the other) and `@oasis_flags` (1 mutual + 2 followee muting), set from the same
 * reads in the same statement (a consistent read after the transaction's locking read).
 */
const pairFlagsKeptSql = `SELECT
       EXISTS(SELECT 1 FROM follows WHERE follower_id = ? AND followee_id = ?) AS following,
       @oasis_fb := EXISTS(SELECT 1 FROM follows WHERE follower_id = ? AND followee_id = ?) AS followedBy,
       EXISTS(SELECT 1 FROM follow_requests WHERE requester_id = ? AND target_id = ?) AS requested,
       EXISTS(SELECT 1 FROM follow_requests WHERE requester_id = ? AND target_id = ?) AS requestedBy,
       @oasis_bl := EXISTS(SELECT 1 FROM blocks WHERE blocker_id = ? AND blocked_id = ?) AS blocking,
       @oasis_bb := EXISTS(SELECT 1 FROM blocks WHERE blocker_id = ? AND blocked_id = ?) AS blockedBy,
       EXISTS(SELECT 1 FROM mutes WHERE muter_id = ? AND muted_id = ?) AS muting,
       @oasis_mb := EXISTS(SELECT 1 FROM mutes WHERE muter_id = ? AND muted_id = ?) AS mutedBy,
       @oasis_free := NOT (@oasis_bl OR @oasis_bb) AS keptFree,
       @oasis_flags := @oasis_fb + 2 * @oasis_mb AS keptFlags`;
const stripKept = ({ keptFree: _f, keptFlags: _g, ...flags }: Record<string, number>) => flags;

/**
 * Public follows of several callers in one transaction of one round trip (group commit,
 * kit/tx-batcher.ts; OASIS_GRAPH_GROUP_COMMIT), each with followOneTrip's effect, in the
 * order given. First the block rows of every pair, either way, locked by one statement,
 * so the batch's snapshot (taken by its first consistent read, after it) sees every
 * block that stands and none can come or go meanwhile (rows and gaps locked). Then three
 * statements a follow: pairFlagsKeptSql (the flags, deciding `@oasis_free` and
 * `@oasis_flags` as followOneTrip does), the edge by INSERT IGNORE if free, and its event
 * (`GroupFollow.event`, picked by `@oasis_flags`, inserted only if its edge's own row is
 * there: `EXISTS(... follower_id = ? AND followee_id = ? AND id = ?)`). A follow sees the
 * writes of those before it (A -> B then B -> A: the second is mutual), as if they had
 * committed one after the other. Then the counts of every new edge in one INSERT ...
 * SELECT over the rows that carry the batch's edge ids, per user in ascending user id
 * (the lock order every follow uses, so concurrent batches and single follows do not
 * deadlock on counts), and which edges are the batch's (a repeat, in the batch or of an
 * edge already there, inserted nothing: not created, not counted, no event). COMMIT is
 * added by the caller. `outcomes` reads each follow's result, in order. (The batch's
 * follows in three statements for all of them, multi-row, were measured and removed:
 * design note 68.)
 */
export function followGroupPlan(follows: readonly GroupFollow[]): { statements: Statement[]; outcomes(results: readonly unknown[]): FollowOutcome[] } {
  const eitherWay = "(blocker_id = ? AND blocked_id = ?) OR (blocker_id = ? AND blocked_id = ?)";
  const statements: Statement[] = [
    {
      sql: `SELECT 1 FROM blocks WHERE ${follows.map(() => eitherWay).join(" OR ")} FOR UPDATE`,
      params: follows.flatMap((f) => [f.followerId, f.followeeId, f.followeeId, f.followerId]),
    },
  ];
  for (const f of follows) {
    statements.push(
      { sql: pairFlagsKeptSql, params: pairFlagsParams(f.followerId, f.followeeId) },
      { sql: "INSERT IGNORE INTO follows (follower_id, followee_id, id, created_at) SELECT ?, ?, ?, ? FROM DUAL WHERE @oasis_free", params: [f.followerId, f.followeeId, f.id, f.now] },
      insertEvents([f.event]),
    );
  }
  const ours = follows.map(() => "(follower_id = ? AND followee_id = ? AND id = ?)").join(" OR ");
  const oursParams = follows.flatMap((f) => [f.followerId, f.followeeId, f.id]);
  statements.push(
    {
      sql: `INSERT INTO counts (user_id, followers, following)
            SELECT u, SUM(fr), SUM(fg) FROM (
              SELECT followee_id AS u, 1 AS fr, 0 AS fg FROM follows WHERE ${ours}
              UNION ALL SELECT follower_id, 0, 1 FROM follows WHERE ${ours}
            ) n GROUP BY u ORDER BY u
            ON DUPLICATE KEY UPDATE followers = counts.followers + VALUES(followers), following = counts.following + VALUES(following)`,
      params: [...oursParams, ...oursParams],
    },
    { sql: `SELECT id FROM follows WHERE ${ours}`, params: oursParams },
  );
  return {
    statements,
    outcomes(results) {
      const created = new Set((results[results.length - 1] as Array<{ id: string }>).map((r) => BigInt(r.id)));
      return follows.map((f, i) => {
        const flags = flagSet(stripKept((results[1 + i * 3] as Array<Record<string, number>>)[0]!));
        if (flags.has("blocking") || flags.has("blockedBy")) return { blocked: true };
        flags.add("following");
        return { blocked: false, created: created.has(f.id), flags };
      });
    },
  };
}

/**
 * The first round trip of a follow import (BatchCreateFollows; `followManyPlan` turns
 * its results into the writes), three statements for all of `ids` at once:
 * 1. lock the block rows between the follower and each target, either way (existing
 *    rows, or the gaps where they would go), as blockedEitherWayForUpdate does for one,
 *    so a concurrent Block and the import serialize;
 * 2. the follower's edges and pending requests to the targets (not locked, as
 *    followBatched does not lock them: the writes are INSERT IGNOREs whose effects are
 *    counted from the rows they really wrote, see followManyPlan);
 * 3. the flags the events and the response need: who follows back, who asked to follow
 *    the follower, whom the follower mutes, who mutes the follower.
 */
export function followManyReads(followerId: bigint, ids: readonly bigint[]): Statement[] {
  return [
    { sql: "SELECT blocker_id, blocked_id FROM blocks WHERE (blocker_id = ? AND blocked_id IN (?)) OR (blocked_id = ? AND blocker_id IN (?)) FOR UPDATE", params: [followerId, ids, followerId, ids] },
    {
      sql: `SELECT 'following' AS k, followee_id AS id FROM follows WHERE follower_id = ? AND followee_id IN (?)
            UNION ALL SELECT 'requested', target_id FROM follow_requests WHERE requester_id = ? AND target_id IN (?)`,
      params: [followerId, ids, followerId, ids],
    },
    {
      sql: `SELECT 'followedBy' AS k, follower_id AS id FROM follows WHERE followee_id = ? AND follower_id IN (?)
            UNION ALL SELECT 'requestedBy', requester_id FROM follow_requests WHERE target_id = ? AND requester_id IN (?)
            UNION ALL SELECT 'muting', muted_id FROM mutes WHERE muter_id = ? AND muted_id IN (?)
            UNION ALL SELECT 'mutedBy', muter_id FROM mutes WHERE muted_id = ? AND muter_id IN (?)`,
      params: [followerId, ids, followerId, ids, followerId, ids, followerId, ids],
    },
  ];
}

/**
 * The writes of a follow import from `followManyReads`' results (`reads`, in its order),
 * for the second round trip of the same transaction. When any target blocks or is
 * blocked by the follower: that target (the first in request order) and no writes.
 * Otherwise every target not followed yet gets, if public, the edge (one multi-row
 * INSERT IGNORE, edge ids from `nextId` in request order) or, if private and not asked
 * yet, a request (likewise). What really changed is decided in SQL from the rows that
 * carry this call's edge ids, so a concurrent Follow of the same pair that got in
 * between is neither counted nor announced twice: both users' counts change by the new
 * edges in one INSERT ... SELECT whose rows are in ascending user id (the lock order
 * every follow uses: no deadlock with a concurrent A -> B and B -> A), and each
 * candidate's event (`events.created(followee, mutual, followeeMuting)` or
 * `events.requested(target)`, in request order) is inserted only if its row is this
 * call's. Targets already followed or asked write nothing. Returns the statements and
 * one outcome per target, in request order (`changed`: this call tried to write a row).
 */
export function followManyPlan(
  followerId: bigint,
  targets: readonly FollowTarget[],
  reads: readonly unknown[],
  nextId: () => bigint,
  now: Date,
  events: FollowManyEvents,
): { blocked: bigint } | { blocked: undefined; statements: Statement[]; outcomes: FollowManyOutcome[] } {
  const [blocks, own, others] = reads as [Array<{ blocker_id: string; blocked_id: string }>, Array<{ k: RelationFlag; id: string }>, Array<{ k: RelationFlag; id: string }>];
  if (blocks.length > 0) {
    const involved = new Set(blocks.map((b) => (BigInt(b.blocker_id) === followerId ? BigInt(b.blocked_id) : BigInt(b.blocker_id))));
    return { blocked: targets.find((t) => involved.has(t.userId))!.userId };
  }
  const flagsOf = new Map<bigint, Set<RelationFlag>>(targets.map((t) => [t.userId, new Set<RelationFlag>()]));
  for (const r of [...own, ...others]) flagsOf.get(BigInt(r.id))?.add(r.k);
  const edges: unknown[][] = [];
  const asks: unknown[][] = [];
  const eventStatements: Statement[] = [];
  const outcomes: FollowManyOutcome[] = [];
  for (const t of targets) {
    const flags = flagsOf.get(t.userId)!;
    if (flags.has("following")) {
      outcomes.push({ userId: t.userId, state: "following", flags, changed: false });
    } else if (!t.isPrivate) {
      const id = nextId();
      edges.push([followerId, t.userId, id, now]);
      eventStatements.push(events.created(t.userId, flags.has("followedBy"), flags.has("mutedBy"), { sql: "EXISTS(SELECT 1 FROM follows WHERE follower_id = ? AND followee_id = ? AND id = ?)", params: [followerId, t.userId, id] }));
      flags.add("following");
      outcomes.push({ userId: t.userId, state: "following", flags, changed: true });
    } else if (flags.has("requested")) {
      outcomes.push({ userId: t.userId, state: "requested", flags, changed: false });
    } else {
      const id = nextId();
      asks.push([followerId, t.userId, id, now]);
      eventStatements.push(events.requested(t.userId, { sql: "EXISTS(SELECT 1 FROM follow_requests WHERE requester_id = ? AND target_id = ? AND id = ?)", params: [followerId, t.userId, id] }));
      flags.add("requested");
      outcomes.push({ userId: t.userId, state: "requested", flags, changed: true });
    }
  }
  const statements: Statement[] = [];
  if (edges.length > 0) {
    const edgeIds = edges.map((e) => e[2]);
    statements.push(
      { sql: "INSERT IGNORE INTO follows (follower_id, followee_id, id, created_at) VALUES ?", params: [edges] },
      {
        sql: `INSERT INTO counts (user_id, followers, following)
              SELECT u, SUM(fr), SUM(fg) FROM (
                SELECT followee_id AS u, 1 AS fr, 0 AS fg FROM follows WHERE follower_id = ? AND id IN (?)
                UNION ALL SELECT ?, 0, 1 FROM follows WHERE follower_id = ? AND id IN (?)
              ) n GROUP BY u ORDER BY u
              ON DUPLICATE KEY UPDATE followers = counts.followers + VALUES(followers), following = counts.following + VALUES(following)`,
        params: [followerId, edgeIds, followerId, followerId, edgeIds],
      },
    );
  }
  if (asks.length > 0) statements.push({ sql: "INSERT IGNORE INTO follow_requests (requester_id, target_id, id, created_at) VALUES ?", params: [asks] });
  statements.push(...eventStatements);
  return { blocked: undefined, statements, outcomes };
}

/**
 * One page of `userId`'s follow edges, newest first, keyset on the edge id (below
 * `beforeId`): its followers, or the users it follows. Both directions have an index
 * led by their user column (migrations/0001_graph.sql), so a page is one range scan.
 */
export async function edgePage(
  db: Queryable,
  direction: "followers" | "following",
  userId: bigint,
  beforeId: bigint | undefined,
  limit: number,
): Promise<EdgeRow[]> {
  const [other, own] = direction === "followers" ? ["follower_id", "followee_id"] : ["followee_id", "follower_id"];
  const rows = await select<Raw>(
    db,
    `SELECT ${other} AS user_id, id, created_at FROM follows
     WHERE ${own} = ? ${beforeId !== undefined ? "AND id < ?" : ""} ORDER BY id DESC LIMIT ?`,
    beforeId !== undefined ? [userId, beforeId, limit] : [userId, limit],
  );
  return rows.map(toEdge);
}

/**
 * Mutual fans of `userId`: followers it follows back, newest first by the follower's
 * edge; create time is the later of the two follows.
 */
export async function mutualPage(db: Queryable, userId: bigint, beforeId: bigint | undefined, limit: number): Promise<EdgeRow[]> {
  const rows = await select<Raw>(
    db,
    `SELECT f.follower_id AS user_id, f.id, GREATEST(f.created_at, b.created_at) AS created_at
     FROM follows f JOIN follows b ON b.follower_id = f.followee_id AND b.followee_id = f.follower_id
     WHERE f.followee_id = ? ${beforeId !== undefined ? "AND f.id < ?" : ""} ORDER BY f.id DESC LIMIT ?`,
    beforeId !== undefined ? [userId, beforeId, limit] : [userId, limit],
  );
  return rows.map(toEdge);
}

/** Pending requests to follow `targetId`, newest first. */
export async function requestsPage(db: Queryable, targetId: bigint, beforeId: bigint | undefined, limit: number): Promise<EdgeRow[]> {
  const rows = await select<Raw>(
    db,
    `SELECT requester_id AS user_id, id, created_at FROM follow_requests
     WHERE target_id = ? ${beforeId !== undefined ? "AND id < ?" : ""} ORDER BY id DESC LIMIT ?`,
    beforeId !== undefined ? [targetId, beforeId, limit] : [targetId, limit],
  );
  return rows.map(toEdge);
}

/** Follower ids (ascending), all of them or those after `afterId`. */
export async function followerIds(db: Queryable, userId: bigint, afterId = 0n, limit = 1_000_000): Promise<bigint[]> {
  const rows = await select<{ id: string }>(
    db,
    "SELECT follower_id AS id FROM follows WHERE followee_id = ? AND follower_id > ? ORDER BY follower_id LIMIT ?",
    [userId, afterId, limit],
  );
  return rows.map((r) => BigInt(r.id));
}

/** Followee ids (ascending) after `afterId`. */
export async function followingIds(db: Queryable, userId: bigint, afterId: bigint, limit: number): Promise<bigint[]> {
  const rows = await select<{ id: string }>(
    db,
    "SELECT followee_id AS id FROM follows WHERE follower_id = ? AND followee_id > ? ORDER BY followee_id LIMIT ?",
    [userId, afterId, limit],
  );
  return rows.map((r) => BigInt(r.id));
}

/** Stored counts; users without a row have none. */
export async function countsByIds(db: Queryable, ids: readonly bigint[]): Promise<Map<bigint, { followers: bigint; following: bigint }>> {
  if (ids.length === 0) return new Map();
  const rows = await select<{ user_id: string; followers: string; following: string }>(
    db,
    "SELECT user_id, followers, following FROM counts WHERE user_id IN (?)",
    [ids],
  );
  return new Map(rows.map((r) => [BigInt(r.user_id), { followers: BigInt(r.followers), following: BigInt(r.following) }]));
}

/** Follows and following recounted from the follows table (reconciliation, tests). */
export async function recount(db: Queryable, userId: bigint): Promise<{ followers: bigint; following: bigint }> {
  const [row] = await select<{ followers: string; following: string }>(
    db,
    "SELECT (SELECT COUNT(*) FROM follows WHERE followee_id = ?) AS followers, (SELECT COUNT(*) FROM follows WHERE follower_id = ?) AS following",
    [userId, userId],
  );
  return { followers: BigInt(row!.followers), following: BigInt(row!.following) };
}

/** The store as domain/model.ts declares it. */
export const graphStore: GraphStore = {
  upsertAccount,
  accountsByIds,
  insertFollow,
  deleteFollow,
  addToCounts,
  isFollowing,
  insertRequest,
  deleteRequest,
  insertBlock,
  deleteBlock,
  blockedEitherWayForUpdate,
  insertMute,
  deleteMute,
  relationFlags,
  relationsPage,
  edgeList,
  smallRelations,
  pairFlags,
  edgePage,
  mutualPage,
  requestsPage,
  followerIds,
  followingIds,
  countsByIds,
  recount,
  followBatched,
  followOneTrip,
  followGroupPlan,
  followManyReads,
  followManyPlan,
};
