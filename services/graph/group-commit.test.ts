/**
 * Graph's group commit (store.ts followGroupPlan through kit/tx-batcher.ts) against real
 * MariaDB with graph's schema: several callers' follows in one transaction, each with
 * followOneTrip's outcome (created or repeated, blocked, the pair's flags, the event's
 * variant: mutual when the reverse follow came earlier in the same batch), the counts of
 * all new edges exact, and concurrent batches over shared users exact too.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { createLogger } from "#kit/logger.ts";
import { dropDatabase, openDatabase, select, withBatchedTransaction, type Pool } from "#kit/mysql.ts";
import { TxBatcher } from "#kit/tx-batcher.ts";
import { testNamespace } from "#kit/testing/namespace.ts";
import type { FollowOutcome, GroupFollow } from "./domain/model.ts";
import { followGroupPlan, followOneTrip, recount } from "./store.ts";

const database = `oasis_${testNamespace()}_graphgc`;
const url = process.env.OASIS_MYSQL_URL ?? "mysql://root@127.0.0.1:3306";
let db: Pool;
let nextId = 1_000n;

beforeAll(async () => {
  db = await openDatabase({ url, database, migrationsDir: join(import.meta.dir, "migrations"), log: createLogger("graph-gc-test", "silent"), multipleStatements: true });
});

afterAll(async () => {
  await db?.end();
  await dropDatabase(url, database);
});

/**
 * A follow with an outbox statement as the route builds it (variant by `@oasis_flags`,
 * only if `@oasis_created = 1`), whose payload names the variant: "v0" plain, "v1"
 * mutual, "v2" followee muting, "v3" both, and whose subject names the pair.
 */
function follow(from: number, to: number): GroupFollow {
  const id = nextId++;
  return {
    followerId: BigInt(from),
    followeeId: BigInt(to),
    id,
    now: new Date(),
    event: {
      sql: "INSERT INTO outbox (id, subject, payload, headers) SELECT ?, ?, ELT(@oasis_flags + 1, 'v0', 'v1', 'v2', 'v3'), '{}' FROM DUAL WHERE @oasis_created = 1",
      params: [id + 1_000_000n, `${from}>${to}`],
    },
  };
}

function batcher(max: number): TxBatcher<GroupFollow, FollowOutcome> {
  return new TxBatcher<GroupFollow, FollowOutcome>({
    pool: db,
    max,
    plan: followGroupPlan,
    alone: (f) => withBatchedTransaction(db, (tx) => followOneTrip(tx, f.followerId, f.followeeId, f.id, f.now, () => f.event, true)),
  });
}

const events = async () => Object.fromEntries((await select<{ subject: string; payload: Buffer }>(db, "SELECT subject, payload FROM outbox ORDER BY id")).map((r) => [r.subject, r.payload.toString()]));
const flagsOf = (o: FollowOutcome) => (o.blocked ? "blocked" : `${o.created ? "created" : "repeated"} ${[...o.flags].sort().join(",")}`);

test("one batch: each follow's outcome, flags and event as if committed one after another", async () => {
  // 13 blocks 11; 16 mutes 15; 12 already follows 17.
  await db.query("INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES (13, 11, NOW(3))");
  await db.query("INSERT INTO mutes (muter_id, muted_id, created_at) VALUES (16, 15, NOW(3))");
  await db.query("INSERT INTO follows (follower_id, followee_id, id, created_at) VALUES (12, 17, 1, NOW(3))");
  await db.query("INSERT INTO counts (user_id, followers, following) VALUES (12, 0, 1), (17, 1, 0)");
  const b = batcher(64);
  const outcomes = await Promise.all(
    [
      [11, 12], // plain
      [12, 11], // mutual: 11 -> 12 came first in this batch
      [11, 12], // repeated within the batch
      [11, 13], // 13 blocks 11
      [15, 16], // the followee mutes the follower
      [17, 12], // mutual with the edge from before
      [12, 17], // there before
    ].map(([from, to]) => b.add(follow(from!, to!))),
  );
  expect(b.stats).toEqual({ batches: 1, batchedItems: 7, alone: 0, failedBatches: 0 });
  expect(outcomes.map(flagsOf)).toEqual([
    "created following",
    "created followedBy,following",
    "repeated followedBy,following",
    "blocked",
    "created following,mutedBy",
    "created followedBy,following",
    "repeated followedBy,following",
  ]);
  expect(await events()).toEqual({ "11>12": "v0", "12>11": "v1", "15>16": "v2", "17>12": "v1" });
  for (const u of [11, 12, 13, 15, 16, 17]) {
    const [c] = await select<{ followers: string; following: string }>(db, "SELECT followers, following FROM counts WHERE user_id = ?", [u]);
    const truth = await recount(db, BigInt(u));
    expect({ u, followers: c?.followers ?? "0", following: c?.following ?? "0" }).toEqual({ u, followers: String(truth.followers), following: String(truth.following) });
  }
});

test("concurrent batches over shared users: every edge counted and announced once", async () => {
  const users = Array.from({ length: 24 }, (_, i) => 100 + i);
  const pairs: Array<[number, number]> = [];
  // Every ordered pair among the users once, both ways, interleaved, plus repeats.
  for (const a of users) for (const c of users) if (a !== c && (a * 7 + c) % 3 === 0) pairs.push([a, c]);
  const repeats = pairs.filter((_, i) => i % 5 === 0);
  const b = batcher(16);
  // Four turns of calls; within each, batches of 16 run two at a time.
  const all: Array<Promise<FollowOutcome>> = [];
  const turns = [pairs.slice(0, pairs.length / 2), [...repeats, ...pairs.slice(pairs.length / 2)], repeats];
  for (const turn of turns) {
    all.push(...turn.map(([a, c]) => b.add(follow(a, c))));
    await new Promise((r) => setImmediate(r));
  }
  const outcomes = await Promise.all(all);
  expect(outcomes.every((o) => !o.blocked)).toBe(true);
  expect(outcomes.filter((o) => !o.blocked && o.created).length).toBe(pairs.length);
  expect(b.stats.batches).toBeGreaterThan(1);
  const stored = await select<{ n: string }>(db, "SELECT COUNT(*) AS n FROM follows WHERE follower_id >= 100");
  expect(Number(stored[0]!.n)).toBe(pairs.length);
  const announced = await select<{ n: string }>(db, "SELECT COUNT(*) AS n FROM outbox WHERE subject LIKE '1__>1__'");
  expect(Number(announced[0]!.n)).toBe(pairs.length);
  for (const u of users) {
    const [c] = await select<{ followers: string; following: string }>(db, "SELECT followers, following FROM counts WHERE user_id = ?", [u]);
    const truth = await recount(db, BigInt(u));
    expect({ u, followers: c?.followers ?? "0", following: c?.following ?? "0" }).toEqual({ u, followers: String(truth.followers), following: String(truth.following) });
  }
});
