/**
 * Post's SQL (database `oasis_post`): implements domain/model.ts PostStore. A post row
 * holds the serialized Post; edits keep the earlier captions in post_revisions.
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { select, write, type Queryable, type Statement } from "#kit/mysql.ts";
import { PostSchema, type Post } from "#gen/oasis/post/v1/post_pb.ts";
import type { PostStore, StoredPost } from "./domain/model.ts";

export type { StoredPost };

export async function insertPost(db: Queryable, post: Post): Promise<void> {
  for (const s of insertPostStatements(post)) await write(db, s.sql, [...s.params!]);
}

/**
 * insertPost as statements of a batched transaction: the post row, then its hashtags if
 * any; with `when` (an SQL condition of the caller's code, never input, e.g.
 * kit/idempotency.ts claimedKey), each inserts only if it holds at that point of the batch.
 * `body`: the post's encoding when the caller has it (stored as given), or (with `when`)
 * an SQL expression of the caller's code giving it at that point of the batch.
 */
export function insertPostStatements(post: Post, when?: string, body?: Uint8Array | { readonly sql: string }): Statement[] {
  const bytesSql = body !== undefined && !(body instanceof Uint8Array) ? body.sql : undefined;
  const ids = [post.postId, post.authorId, post.referPostId];
  const params = bytesSql !== undefined ? ids : [...ids, Buffer.from((body as Uint8Array | undefined) ?? toBinary(PostSchema, post))];
  if (bytesSql !== undefined && when === undefined) throw new Error("insertPostStatements: a body from SQL needs `when`");
  const row = when === undefined
    ? { sql: "INSERT INTO posts (post_id, author_id, refer_post_id, body, created_at) VALUES (?, ?, ?, ?, CURRENT_TIMESTAMP(3))", params }
    : { sql: `INSERT INTO posts (post_id, author_id, refer_post_id, body, created_at) SELECT ?, ?, ?, ${bytesSql ?? "?"}, CURRENT_TIMESTAMP(3) FROM DUAL WHERE ${when}`, params };
  if (post.hashtags.length === 0) return [row];
  if (when === undefined) return [row, { sql: "INSERT IGNORE INTO post_hashtags (tag, post_id) VALUES ?", params: [post.hashtags.map((t) => [t, post.postId])] }];
  const tags = post.hashtags.map(() => "SELECT ? AS tag, ? AS post_id").join(" UNION ALL ");
  return [row, { sql: `INSERT IGNORE INTO post_hashtags (tag, post_id) SELECT tag, post_id FROM (${tags}) h WHERE ${when}`, params: post.hashtags.flatMap((t) => [t, post.postId]) }];
}

/** An SQL condition (with its parameters) true when `userId` has no suspension in force (kit/idempotency.ts idempotentGuarded's guard). */
export function notSuspendedCondition(userId: bigint): Statement {
  return { sql: "NOT EXISTS (SELECT 1 FROM suspensions WHERE user_id = ?)", params: [userId] };
}

/** Posts by id, deleted ones flagged. */
export async function postsByIds(db: Queryable, ids: readonly bigint[], forUpdate = false): Promise<Map<bigint, StoredPost>> {
  if (ids.length === 0) return new Map();
  const rows = await select<{ post_id: string; body: Buffer; deleted_at: Date | null }>(
    db,
    `SELECT post_id, body, deleted_at FROM posts WHERE post_id IN (?)${forUpdate ? " FOR UPDATE" : ""}`,
    [ids],
  );
  return new Map(rows.map((r) => [BigInt(r.post_id), { post: fromBinary(PostSchema, r.body), deleted: r.deleted_at !== null }]));
}

/** Replaces a post's body (caption edit, moderation) and the taken_down column beside it. */
export async function updateBody(db: Queryable, post: Post): Promise<void> {
  await write(db, "UPDATE posts SET body = ?, taken_down = ? WHERE post_id = ?", [Buffer.from(toBinary(PostSchema, post)), post.takenDown ? 1 : 0, post.postId]);
}

export async function markDeleted(db: Queryable, postId: bigint): Promise<boolean> {
  return (await write(db, "UPDATE posts SET deleted_at = CURRENT_TIMESTAMP(3) WHERE post_id = ? AND deleted_at IS NULL", [postId])) === 1;
}

export async function addRevision(db: Queryable, postId: bigint, revision: number, caption: string, createdAt: Date): Promise<void> {
  await write(db, "INSERT INTO post_revisions (post_id, revision, caption, created_at) VALUES (?, ?, ?, ?)", [postId, revision, caption, createdAt]);
}

export async function revisions(db: Queryable, postId: bigint): Promise<Array<{ revision: number; caption: string; createdAt: Date }>> {
  const rows = await select<{ revision: number; caption: string; created_at: Date }>(
    db,
    "SELECT revision, caption, created_at FROM post_revisions WHERE post_id = ? ORDER BY revision",
    [postId],
  );
  return rows.map((r) => ({ revision: r.revision, caption: r.caption, createdAt: r.created_at }));
}

/** Live post ids of an author, newest first, below `beforeId`. */
export async function authorPostIds(db: Queryable, authorId: bigint, beforeId: bigint | undefined, limit: number): Promise<bigint[]> {
  const rows = await select<{ post_id: string }>(
    db,
    `SELECT post_id FROM posts WHERE author_id = ? AND deleted_at IS NULL ${beforeId !== undefined ? "AND post_id < ?" : ""} ORDER BY post_id DESC LIMIT ?`,
    beforeId !== undefined ? [authorId, beforeId, limit] : [authorId, limit],
  );
  return rows.map((r) => BigInt(r.post_id));
}

/** Replace the hashtags of a post (after an edit). */
export async function replaceHashtags(db: Queryable, postId: bigint, tags: readonly string[]): Promise<void> {
  await write(db, "DELETE FROM post_hashtags WHERE post_id = ?", [postId]);
  if (tags.length) await write(db, "INSERT IGNORE INTO post_hashtags (tag, post_id) VALUES ?", [tags.map((t) => [t, postId])]);
}

/** Most posts a user's post count counts (a bound on the COUNT's work); more shows as this. */
export const maxCountedPosts = 100_000;

/**
 * A user's post count as a profile shows it: live posts (any visibility) not taken down
 * by moderation, or 0 while the account is suspended. At most maxCountedPosts.
 */
export async function userPostCount(db: Queryable, userId: bigint): Promise<bigint> {
  if (await isSuspended(db, userId)) return 0n;
  const [r] = await select<{ n: string }>(
    db,
    "SELECT COUNT(*) AS n FROM (SELECT 1 FROM posts WHERE author_id = ? AND deleted_at IS NULL AND taken_down = 0 LIMIT ?) x",
    [userId, maxCountedPosts],
  );
  return BigInt(r?.n ?? 0);
}

/** Whether any SUSPEND_ACCOUNT action is in force on the user (`lock`: lock their rows until commit). */
export async function isSuspended(db: Queryable, userId: bigint, lock = false): Promise<boolean> {
  const rows = await select<{ action_id: string }>(db, `SELECT action_id FROM suspensions WHERE user_id = ?${lock ? " FOR UPDATE" : ""}`, [userId]);
  return rows.length > 0;
}

/**
 * isSuspended(db, userId, true) as a statement of a batched transaction: its rows (one
 * per suspension in force, locked until commit) say whether the user is suspended.
 */
export function suspendedForUpdateStatement(userId: bigint): Statement {
  return { sql: "SELECT action_id FROM suspensions WHERE user_id = ? FOR UPDATE", params: [userId] };
}

/** Records (or, `lifted`, removes) one suspension action of a user; true when that changed a row. */
export async function setSuspension(db: Queryable, userId: bigint, actionId: bigint, lifted: boolean): Promise<boolean> {
  const sql = lifted ? "DELETE FROM suspensions WHERE user_id = ? AND action_id = ?" : "INSERT IGNORE INTO suspensions (user_id, action_id) VALUES (?, ?)";
  return (await write(db, sql, [userId, actionId])) === 1;
}

/** The store as domain/model.ts declares it. */
export const postStore: PostStore = { insertPost, insertPostStatements, notSuspendedCondition, suspendedForUpdateStatement, postsByIds, updateBody, markDeleted, addRevision, revisions, authorPostIds, replaceHashtags, userPostCount, isSuspended };
