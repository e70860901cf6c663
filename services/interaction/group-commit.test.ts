/**
 * Interaction's group commit (store.ts likeGroupPlan through kit/tx-batcher.ts) against
 * real MariaDB with interaction's schema: several callers' likes in one transaction, each
 * with likeBatched's outcome (the post's counters if new, undefined if repeated), one
 * event per new like, and every post's likes counter exact under concurrent batches.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { createLogger } from "#kit/logger.ts";
import { dropDatabase, openDatabase, select, withBatchedTransaction, type Pool } from "#kit/mysql.ts";
import { TxBatcher } from "#kit/tx-batcher.ts";
import { insertEvents } from "#kit/outbox.ts";
import { testNamespace } from "#kit/testing/namespace.ts";
import type { Counts, GroupLike } from "./domain/model.ts";
import { likeBatched, likeGroupPlan } from "./store.ts";

const database = `oasis_${testNamespace()}_interactiongc`;
const url = process.env.OASIS_MYSQL_URL ?? "mysql://root@127.0.0.1:3306";
let db: Pool;
let nextId = 1_000n;

beforeAll(async () => {
  db = await openDatabase({ url, database, migrationsDir: join(import.meta.dir, "migrations"), log: createLogger("interaction-gc-test", "silent"), multipleStatements: true });
});

afterAll(async () => {
  await db?.end();
  await dropDatabase(url, database);
});

/**
 * A like whose outbox row (kit/outbox.ts ConditionalEvent) names the pair in its subject, inserted only if the like
 * is new, as the route builds it: `@oasis_created = 1`, or with `rows` its own row.
 */
function like(post: number, user: number, rows: boolean): GroupLike {
  const id = nextId++;
  const when = rows ? "EXISTS(SELECT 1 FROM likes WHERE post_id = ? AND user_id = ? AND id = ?)" : "@oasis_created = 1";
  return {
    postId: BigInt(post),
    userId: BigInt(user),
    id,
    event: { id: id + 1_000_000n, subject: `${post}<${user}`, headers: "{}", payloads: [Buffer.from("e")], when: { sql: when, params: rows ? [post, user, id] : [] } },
  };
}

function batcher(max: number, rows: boolean): TxBatcher<GroupLike, Counts | undefined> {
  return new TxBatcher<GroupLike, Counts | undefined>({
    pool: db,
    max,
    plan: (likes) => likeGroupPlan(likes, rows),
    alone: (l) => withBatchedTransaction(db, (tx) => likeBatched(tx, l.postId, l.userId, l.id, insertEvents([l.event]))),
  });
}

const likesOf = async (post: number) => Number((await select<{ likes: string }>(db, "SELECT likes FROM post_counts WHERE post_id = ?", [post]))[0]?.likes ?? 0);

for (const rows of [false, true]) {
// Posts and users of the second pass offset by `o`, so the passes share nothing.
const o = rows ? 1000 : 0;
test(`one batch${rows ? " (multi-row)" : ""}: new likes get their post's counters, repeats nothing; one event per new like`, async () => {
  await db.query("INSERT INTO likes (post_id, user_id, id, created_at) VALUES (?, ?, ?, NOW(3))", [1 + o, 50 + o, 1 + o]);
  await db.query("INSERT INTO post_counts (post_id, likes, v) VALUES (?, 1, 1)", [1 + o]);
  const b = batcher(64, rows);
  const out = await Promise.all([[1, 51], [2, 51], [1, 50], [1, 52], [1, 51], [2, 53]].map(([p, u]) => b.add(like(p! + o, u! + o, rows))));
  expect(b.stats).toEqual({ batches: 1, batchedItems: 6, alone: 0, failedBatches: 0 });
  expect(out.map((c) => (c ? `${c.likes}` : "-"))).toEqual(["3", "2", "-", "3", "-", "2"]);
  // The version moved once for the batch, from the row's 1.
  expect(out[0]!.v).toBe(2n);
  const events = await select<{ subject: string }>(db, "SELECT subject FROM outbox WHERE id > ? AND id < ? ORDER BY id", [1_000_000n + nextId - 7n, 1_000_000n + nextId]);
  expect(events.map((e) => e.subject)).toEqual([[1, 51], [2, 51], [1, 52], [2, 53]].map(([p, u]) => `${p! + o}<${u! + o}`));
  expect([await likesOf(1 + o), await likesOf(2 + o)]).toEqual([3, 2]);
});

test(`concurrent batches${rows ? " (multi-row)" : ""} on a few posts: every counter equals its likes`, async () => {
  const posts = [10 + o, 11 + o, 12 + o];
  const all: Array<Promise<Counts | undefined>> = [];
  const b = batcher(16, rows);
  for (let turn = 0; turn < 3; turn++) {
    // Each turn likes every post by users 200-259 (turns 1 and 2 repeat some of turn 0's).
    for (let u = 200 + turn * 10; u < 260; u++) for (const p of posts) all.push(b.add(like(p, u + o, rows)));
    await new Promise((r) => setImmediate(r));
  }
  const out = await Promise.all(all);
  expect(out.filter((c) => c !== undefined).length).toBe(60 * posts.length);
  expect(b.stats.batches).toBeGreaterThan(1);
  for (const p of posts) {
    const [n] = await select<{ n: string }>(db, "SELECT COUNT(*) AS n FROM likes WHERE post_id = ?", [p]);
    expect({ p, likes: await likesOf(p) }).toEqual({ p, likes: Number(n!.n) });
    expect(Number(n!.n)).toBe(60);
  }
});
}
