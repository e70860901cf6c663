/**
 * Interaction's SQL (database `oasis_interaction`): implements domain/model.ts
 * InteractionStore. Writers report whether a row
 * changed; counters move in the same transaction and return their new values with
 * their version, which the Redis copy uses to order updates.
 */
import { select, write, type BatchedTx, type Queryable, type Statement } from "#kit/mysql.ts";
import { insertEvents } from "#kit/outbox.ts";
import type { CommentRow, CountField, Counts, GroupLike, InteractionStore, LikerRow } from "./domain/model.ts";

export type { CommentRow, CountField, Counts };

/** Adds `delta` to one counter; returns all counters afterwards (row locked until commit). */
export async function bumpCount(db: Queryable, postId: bigint, field: CountField, delta: 1 | -1): Promise<Counts> {
  await write(
    db,
    `INSERT INTO post_counts (post_id, ${field}, v) VALUES (?, ?, 1)
     ON DUPLICATE KEY UPDATE ${field} = GREATEST(0, ${field} + VALUES(${field})), v = v + 1`,
    [postId, delta === 1 ? 1 : 0],
  );
  if (delta === -1) await write(db, `UPDATE post_counts SET ${field} = GREATEST(0, ${field} - 1) WHERE post_id = ?`, [postId]);
  return (await countsOf(db, [postId])).get(postId)!;
}

/**
 * Stored counters of `ids` (absent: never counted). `forUpdate` locks the rows (and the
 * gaps of absent ones) until commit, so no counter of them moves meanwhile: the
 * reconcile job compares them with a recount under that lock.
 */
export async function countsOf(db: Queryable, ids: readonly bigint[], forUpdate = false): Promise<Map<bigint, Counts>> {
  if (ids.length === 0) return new Map();
  const rows = await select<{ post_id: string; likes: string; comments: string; refers: string; drops_received: string; v: string }>(
    db,
    `SELECT post_id, likes, comments, refers, drops_received, v FROM post_counts WHERE post_id IN (?)${forUpdate ? " FOR UPDATE" : ""}`,
    [ids],
  );
  return new Map(
    rows.map((r) => [
      BigInt(r.post_id),
      { likes: BigInt(r.likes), comments: BigInt(r.comments), refers: BigInt(r.refers), dropsReceived: BigInt(r.drops_received), v: BigInt(r.v) },
    ]),
  );
}

/**
 * A like in one round trip of one transaction (kit/mysql.ts withBatchedTransaction),
 * where insertLike, bumpCount and the outbox insert take five plus BEGIN and COMMIT,
 * with the same effect: INSERT IGNORE the like; only if it was new (ROW_COUNT() = 1,
 * kept in a session variable) add one to the post's likes (and its version) and insert
 * `event`'s outbox row (built with the condition `@oasis_created = 1`); read the
 * counters; COMMIT. A repeated like changes nothing. Returns the counters after the
 * like if it was new, undefined if the user had already liked the post.
 */
export async function likeBatched(tx: BatchedTx, postId: bigint, userId: bigint, id: bigint, event: Statement): Promise<Counts | undefined> {
  const results = await tx.run(
    [
      { sql: "INSERT IGNORE INTO likes (post_id, user_id, id, created_at) VALUES (?, ?, ?, CURRENT_TIMESTAMP(3))", params: [postId, userId, id] },
      { sql: "SET @oasis_created := ROW_COUNT()" },
      {
        sql: `INSERT INTO post_counts (post_id, likes, v) SELECT ?, 1, 1 FROM DUAL WHERE @oasis_created = 1
              ON DUPLICATE KEY UPDATE likes = GREATEST(0, post_counts.likes + VALUES(likes)), v = post_counts.v + 1`,
        params: [postId],
      },
      event,
      { sql: "SELECT @oasis_created AS created, likes, comments, refers, drops_received, v FROM post_counts WHERE post_id = ?", params: [postId] },
    ],
    { commit: true },
  );
  const [r] = results[4] as Array<{ created: number | string; likes: string; comments: string; refers: string; drops_received: string; v: string }>;
  if (!r || Number(r.created) !== 1) return undefined;
  return { likes: BigInt(r.likes), comments: BigInt(r.comments), refers: BigInt(r.refers), dropsReceived: BigInt(r.drops_received), v: BigInt(r.v) };
}

/**
 * Likes of several callers in one transaction of one round trip (group commit,
 * kit/tx-batcher.ts; OASIS_INTERACTION_GROUP_COMMIT), each with likeBatched's effect,
 * three statements each: INSERT IGNORE the like, `@oasis_created := ROW_COUNT()`, its
 * outbox statement (`GroupLike.event`, only if created). Then, for the whole batch: each
 * post's likes up by its new likes (and its version by one) in one INSERT ... SELECT
 * over the rows that carry the batch's like ids, grouped per post and in ascending post
 * id (the lock order of every batch, so concurrent batches do not deadlock on a popular
 * post's counter); which likes are the batch's (a like repeated in the batch or already
 * there inserted nothing: not created, not counted, no event); the counters of the
 * batch's posts. COMMIT is added by the caller. `outcomes`: per like, in order, the
 * post's counters after the batch if the like is new, else undefined (as likeBatched).
 * `rows` (OASIS_INTERACTION_GROUP_ROWS): the likes in one multi-row INSERT IGNORE (a
 * like repeated in the batch: the first one's row) and their events in one statement
 * (kit/outbox.ts insertEvents), each event's `when` then being its like's row
 * (`EXISTS(... id = ?)`), two statements for the batch instead of three per like.
 */
export function likeGroupPlan(likes: readonly GroupLike[], rows = false): { statements: Statement[]; outcomes(results: readonly unknown[]): Array<Counts | undefined> } {
  const statements: Statement[] = [];
  if (rows) {
    statements.push(
      { sql: `INSERT IGNORE INTO likes (post_id, user_id, id, created_at) VALUES ${likes.map(() => "(?, ?, ?, CURRENT_TIMESTAMP(3))").join(", ")}`, params: likes.flatMap((l) => [l.postId, l.userId, l.id]) },
      insertEvents(likes.map((l) => l.event)),
    );
  } else {
    for (const l of likes) {
      statements.push(
        { sql: "INSERT IGNORE INTO likes (post_id, user_id, id, created_at) VALUES (?, ?, ?, CURRENT_TIMESTAMP(3))", params: [l.postId, l.userId, l.id] },
        { sql: "SET @oasis_created := ROW_COUNT()" },
        insertEvents([l.event]),
      );
    }
  }
  const ours = likes.map(() => "(post_id = ? AND user_id = ? AND id = ?)").join(" OR ");
  const oursParams = likes.flatMap((l) => [l.postId, l.userId, l.id]);
  const posts = [...new Set(likes.map((l) => l.postId))];
  statements.push(
    {
      sql: `INSERT INTO post_counts (post_id, likes, v)
            SELECT post_id, COUNT(*), 1 FROM likes WHERE ${ours} GROUP BY post_id ORDER BY post_id
            ON DUPLICATE KEY UPDATE likes = GREATEST(0, post_counts.likes + VALUES(likes)), v = post_counts.v + 1`,
      params: oursParams,
    },
    { sql: `SELECT id FROM likes WHERE ${ours}`, params: oursParams },
    { sql: "SELECT post_id, likes, comments, refers, drops_received, v FROM post_counts WHERE post_id IN (?)", params: [posts] },
  );
  return {
    statements,
    outcomes(results) {
      const at = (rows ? 2 : likes.length * 3) + 1;
      const created = new Set((results[at] as Array<{ id: string }>).map((r) => BigInt(r.id)));
      const counts = new Map(
        (results[at + 1] as Array<{ post_id: string; likes: string; comments: string; refers: string; drops_received: string; v: string }>).map((r) => [
          BigInt(r.post_id),
          { likes: BigInt(r.likes), comments: BigInt(r.comments), refers: BigInt(r.refers), dropsReceived: BigInt(r.drops_received), v: BigInt(r.v) },
        ]),
      );
      return likes.map((l) => (created.has(l.id) ? counts.get(l.postId)! : undefined));
    },
  };
}

/** Counters recounted from the rows they count (the reconcile job's truth). */
export async function recount(db: Queryable, ids: readonly bigint[]): Promise<Map<bigint, Omit<Counts, "v">>> {
  const out = new Map<bigint, Omit<Counts, "v">>(ids.map((id) => [id, { likes: 0n, comments: 0n, refers: 0n, dropsReceived: 0n }]));
  if (ids.length === 0) return out;
  const rows = await select<{ post_id: string; k: string; n: string }>(
    db,
    `SELECT post_id, 'likes' AS k, COUNT(*) AS n FROM likes WHERE post_id IN (?) GROUP BY post_id
     UNION ALL SELECT c.post_id, 'comments', COUNT(*) FROM comments c WHERE c.post_id IN (?) AND c.deleted_at IS NULL AND c.taken_down = 0 GROUP BY c.post_id
     UNION ALL SELECT post_id, 'refers', COUNT(*) FROM refers WHERE post_id IN (?) GROUP BY post_id
     UNION ALL SELECT post_id, 'dropsReceived', SUM(amount) FROM tips WHERE post_id IN (?) GROUP BY post_id`,
    [ids, ids, ids, ids],
  );
  for (const r of rows) {
    const cur = out.get(BigInt(r.post_id))!;
    out.set(BigInt(r.post_id), { ...cur, [r.k]: BigInt(r.n) });
  }
  return out;
}

/** Up to `limit` counted post ids above `afterId`, ascending (the reconcile sweep's keyset walk). */
export async function countedPostsAfter(db: Queryable, afterId: bigint, limit: number): Promise<bigint[]> {
  const rows = await select<{ post_id: string }>(db, "SELECT post_id FROM post_counts WHERE post_id > ? ORDER BY post_id LIMIT ?", [afterId, limit]);
  return rows.map((r) => BigInt(r.post_id));
}

/** Overwrites counters with recounted values (bumping v); returns the stored result. */
export async function setCounts(db: Queryable, postId: bigint, c: Omit<Counts, "v">): Promise<Counts> {
  await write(
    db,
    `INSERT INTO post_counts (post_id, likes, comments, refers, drops_received, v) VALUES (?, ?, ?, ?, ?, 1)
     ON DUPLICATE KEY UPDATE likes = VALUES(likes), comments = VALUES(comments), refers = VALUES(refers),
       drops_received = VALUES(drops_received), v = v + 1`,
    [postId, c.likes, c.comments, c.refers, c.dropsReceived],
  );
  return (await countsOf(db, [postId])).get(postId)!;
}

/**
 * Counts a tip once: records its transfer and adds its drops to the post's counter.
 * Returns the counters afterwards, or undefined if the tip was already counted.
 */
export async function addTip(db: Queryable, transferId: bigint, postId: bigint, amount: bigint): Promise<Counts | undefined> {
  if (!(await write(db, "INSERT IGNORE INTO tips (transfer_id, post_id, amount) VALUES (?, ?, ?)", [transferId, postId, amount]))) return undefined;
  await write(
    db,
    `INSERT INTO post_counts (post_id, drops_received, v) VALUES (?, ?, 1)
     ON DUPLICATE KEY UPDATE drops_received = drops_received + VALUES(drops_received), v = v + 1`,
    [postId, amount],
  );
  return (await countsOf(db, [postId])).get(postId)!;
}

export async function insertLike(db: Queryable, postId: bigint, userId: bigint, id: bigint): Promise<boolean> {
  return (await write(db, "INSERT IGNORE INTO likes (post_id, user_id, id, created_at) VALUES (?, ?, ?, CURRENT_TIMESTAMP(3))", [postId, userId, id])) === 1;
}

export async function deleteLike(db: Queryable, postId: bigint, userId: bigint): Promise<boolean> {
  return (await write(db, "DELETE FROM likes WHERE post_id = ? AND user_id = ?", [postId, userId])) === 1;
}

export async function likersPage(db: Queryable, postId: bigint, beforeId: bigint | undefined, limit: number): Promise<LikerRow[]> {
  const rows = await select<{ user_id: string; id: string; created_at: Date }>(
    db,
    `SELECT user_id, id, created_at FROM likes WHERE post_id = ? ${beforeId !== undefined ? "AND id < ?" : ""} ORDER BY id DESC LIMIT ?`,
    beforeId !== undefined ? [postId, beforeId, limit] : [postId, limit],
  );
  return rows.map((r) => ({ userId: BigInt(r.user_id), id: BigInt(r.id), createdAt: r.created_at }));
}

/** Post ids among `ids` that `userId` likes. */
export async function likedBy(db: Queryable, userId: bigint, limit: number): Promise<bigint[]> {
  const rows = await select<{ post_id: string }>(db, "SELECT post_id FROM likes WHERE user_id = ? ORDER BY post_id DESC LIMIT ?", [userId, limit]);
  return rows.map((r) => BigInt(r.post_id));
}

/** Post ids `userId` referred to. */
export async function referredBy(db: Queryable, userId: bigint, limit: number): Promise<bigint[]> {
  const rows = await select<{ post_id: string }>(db, "SELECT post_id FROM refers WHERE user_id = ? ORDER BY post_id DESC LIMIT ?", [userId, limit]);
  return rows.map((r) => BigInt(r.post_id));
}

type RawComment = { comment_id: string; post_id: string; author_id: string; parent_comment_id: string; text: string; mention_user_ids: string | string[]; created_at: Date; deleted_at: Date | null; taken_down?: number };
const toComment = (r: RawComment): CommentRow => ({
  commentId: BigInt(r.comment_id),
  postId: BigInt(r.post_id),
  authorId: BigInt(r.author_id),
  parentCommentId: BigInt(r.parent_comment_id),
  text: r.text,
  mentionUserIds: (typeof r.mention_user_ids === "string" ? (JSON.parse(r.mention_user_ids) as string[]) : r.mention_user_ids).map(BigInt),
  createdAt: r.created_at,
  deleted: r.deleted_at !== null,
  takenDown: Number(r.taken_down ?? 0) === 1,
});

export async function insertComment(db: Queryable, c: Omit<CommentRow, "deleted">): Promise<void> {
  await write(
    db,
    "INSERT INTO comments (comment_id, post_id, author_id, parent_comment_id, text, mention_user_ids, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    [c.commentId, c.postId, c.authorId, c.parentCommentId, c.text, JSON.stringify(c.mentionUserIds.map(String)), c.createdAt],
  );
}

export async function commentById(db: Queryable, id: bigint, forUpdate = false): Promise<CommentRow | undefined> {
  const [r] = await select<RawComment>(db, `SELECT * FROM comments WHERE comment_id = ?${forUpdate ? " FOR UPDATE" : ""}`, [id]);
  return r && toComment(r);
}

/**
 * Sets a comment's taken_down flag (moderation); true when it changed. The caller moves
 * the comment counter only when it changed on a comment the author has not deleted.
 */
export async function setCommentTakenDown(db: Queryable, id: bigint, takenDown: boolean): Promise<boolean> {
  return (await write(db, "UPDATE comments SET taken_down = ? WHERE comment_id = ? AND taken_down = ?", [takenDown ? 1 : 0, id, takenDown ? 0 : 1])) === 1;
}

export async function markCommentDeleted(db: Queryable, id: bigint): Promise<boolean> {
  return (await write(db, "UPDATE comments SET deleted_at = CURRENT_TIMESTAMP(3) WHERE comment_id = ? AND deleted_at IS NULL", [id])) === 1;
}

/** Live comments under `parent` (0: top level), oldest first, after `afterId`. */
export async function commentsPage(db: Queryable, postId: bigint, parent: bigint, afterId: bigint, limit: number): Promise<CommentRow[]> {
  const rows = await select<RawComment>(
    db,
    "SELECT * FROM comments WHERE post_id = ? AND parent_comment_id = ? AND comment_id > ? AND deleted_at IS NULL AND taken_down = 0 ORDER BY comment_id LIMIT ?",
    [postId, parent, afterId, limit],
  );
  return rows.map(toComment);
}

/** The first `perParent` live replies of each parent, and each parent's reply count. */
export async function repliesOf(db: Queryable, parents: readonly bigint[], perParent: number): Promise<{ replies: CommentRow[]; counts: Map<bigint, number> }> {
  if (parents.length === 0) return { replies: [], counts: new Map() };
  const rows = await select<RawComment & { rn: number }>(
    db,
    `SELECT * FROM (
       SELECT c.*, ROW_NUMBER() OVER (PARTITION BY parent_comment_id ORDER BY comment_id) AS rn
       FROM comments c WHERE parent_comment_id IN (?) AND deleted_at IS NULL AND taken_down = 0
     ) x WHERE rn <= ?`,
    [parents, perParent],
  );
  const counts = await select<{ p: string; n: string }>(
    db,
    "SELECT parent_comment_id AS p, COUNT(*) AS n FROM comments WHERE parent_comment_id IN (?) AND deleted_at IS NULL AND taken_down = 0 GROUP BY parent_comment_id",
    [parents],
  );
  return { replies: rows.map(toComment), counts: new Map(counts.map((c) => [BigInt(c.p), Number(c.n)])) };
}

/** The post's posts_meta row (its author), if absent: `INSERT IGNORE`, a row already there (a deleted one included) left as it is. */
export async function upsertPostMeta(db: Queryable, postId: bigint, authorId: bigint): Promise<void> {
  await write(db, "INSERT IGNORE INTO posts_meta (post_id, author_id) VALUES (?, ?)", [postId, authorId]);
}

export async function markPostDeleted(db: Queryable, postId: bigint, authorId: bigint): Promise<void> {
  await write(db, "INSERT INTO posts_meta (post_id, author_id, deleted) VALUES (?, ?, 1) ON DUPLICATE KEY UPDATE deleted = 1", [postId, authorId]);
}

/**
 * The post's posts_meta row, written if absent and locked (both ways take the row's
 * exclusive lock, as markPostDeleted's upsert does, so the two serialize); true when it
 * is not marked deleted. A refer-to's creation applied after its deletion finds it so.
 */
export async function lockLivePostMeta(tx: Queryable, postId: bigint, authorId: bigint): Promise<boolean> {
  await write(tx, "INSERT INTO posts_meta (post_id, author_id) VALUES (?, ?) ON DUPLICATE KEY UPDATE post_id = post_id", [postId, authorId]);
  const rows = await select<{ deleted: number }>(tx, "SELECT deleted FROM posts_meta WHERE post_id = ? FOR UPDATE", [postId]);
  return !!rows[0] && !Number(rows[0].deleted);
}

export async function insertRefer(db: Queryable, postId: bigint, referrerPostId: bigint, userId: bigint): Promise<boolean> {
  return (await write(db, "INSERT IGNORE INTO refers (post_id, referrer_post_id, user_id) VALUES (?, ?, ?)", [postId, referrerPostId, userId])) === 1;
}

export async function deleteRefer(db: Queryable, postId: bigint, referrerPostId: bigint): Promise<boolean> {
  return (await write(db, "DELETE FROM refers WHERE post_id = ? AND referrer_post_id = ?", [postId, referrerPostId])) === 1;
}

/** The post's author as recorded in posts_meta (0 when the post was never seen). */
export async function postAuthor(db: Queryable, postId: bigint): Promise<bigint> {
  const rows = await select<{ author_id: string }>(db, "SELECT author_id FROM posts_meta WHERE post_id = ?", [postId]);
  return rows[0] ? BigInt(rows[0].author_id) : 0n;
}

/** The store as domain/model.ts declares it. */
export const interactionStore: InteractionStore = {
  bumpCount,
  likeBatched,
  likeGroupPlan,
  countsOf,
  recount,
  countedPostsAfter,
  setCounts,
  addTip,
  insertLike,
  deleteLike,
  likersPage,
  likedBy,
  referredBy,
  insertComment,
  commentById,
  markCommentDeleted,
  commentsPage,
  repliesOf,
  upsertPostMeta,
  markPostDeleted,
  insertRefer,
  deleteRefer,
  postAuthor,
};
