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
import { insertEvents } from "#kit/outbox.ts";
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
 * A follow with its outbox row as the route builds it (variant by `@oasis_flags`, only if
 * the edge's own row is there), whose payload names the variant: "v0" plain, "v1"
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
      id: id + 1_000_000n,
      subject: `${from}>${to}`,
      headers: "{}",
      payloads: ["v0", "v1", "v2", "v3"].map((v) => Buffer.from(v)),
      pick: { sql: "@oasis_flags", params: [] },
      when: { sql: "EXISTS(SELECT 1 FROM follows WHERE follower_id = ? AND followee_id = ? AND id = ?)", params: [from, to, id] },
    },
  };
}

function batcher(max: number): TxBatcher<GroupFollow, FollowOutcome> {
  return new TxBatcher<GroupFollow, FollowOutcome>({
    pool: db,
    max,
    plan: (follows) => followGroupPlan(follows),
    alone: (f) => withBatchedTransaction(db, (tx) => followOneTrip(tx, f.followerId, f.followeeId, f.id, f.now, () => insertEvents([f.event]))),
  });
}

/** The events of followers in [low, high) (subject "from>to"), one entry per row. */
const eventRows = async (low: number, high: number) =>
  (await select<{ subject: string; payload: Buffer }>(db, "SELECT subject, payload FROM outbox ORDER BY id")).filter(
    (r) => Number(r.subject.split(">")[0]) >= low && Number(r.subject.split(">")[0]) < high,
  );
/** Those events' variants by subject. */
const events = async (low: number, high: number) => Object.fromEntries((await eventRows(low, high)).map((r) => [r.subject, r.payload.toString()]));
const flagsOf = (o: FollowOutcome) => (o.blocked ? "blocked" : `${o.created ? "created" : "repeated"} ${[...o.flags].sort().join(",")}`);

const o = 0;
test(`one batch: each follow's outcome, flags and event as if committed one after another`, async () => {
  // 13 blocks 11; 16 mutes 15; 12 already follows 17.
  await db.query("INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES (?, ?, NOW(3))", [13 + o, 11 + o]);
  await db.query("INSERT INTO mutes (muter_id, muted_id, created_at) VALUES (?, ?, NOW(3))", [16 + o, 15 + o]);
  await db.query("INSERT INTO follows (follower_id, followee_id, id, created_at) VALUES (?, ?, ?, NOW(3))", [12 + o, 17 + o, 1 + o]);
  await db.query("INSERT INTO counts (user_id, followers, following) VALUES (?, 0, 1), (?, 1, 0)", [12 + o, 17 + o]);
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
    ].map(([from, to]) => b.add(follow(from! + o, to! + o))),
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
  expect((await eventRows(10 + o, 20 + o)).length).toBe(4);
  expect(await events(10 + o, 20 + o)).toEqual({ [`${11 + o}>${12 + o}`]: "v0", [`${12 + o}>${11 + o}`]: "v1", [`${15 + o}>${16 + o}`]: "v2", [`${17 + o}>${12 + o}`]: "v1" });
  for (const u of [11, 12, 13, 15, 16, 17].map((n) => n + o)) {
    const [c] = await select<{ followers: string; following: string }>(db, "SELECT followers, following FROM counts WHERE user_id = ?", [u]);
    const truth = await recount(db, BigInt(u));
    expect({ u, followers: c?.followers ?? "0", following: c?.following ?? "0" }).toEqual({ u, followers: String(truth.followers), following: String(truth.following) });
  }
});

test(`concurrent batches over shared users: every edge counted and announced once`, async () => {
  const users = Array.from({ length: 24 }, (_, i) => 100 + o + i);
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
  const stored = await select<{ n: string }>(db, "SELECT COUNT(*) AS n FROM follows WHERE follower_id BETWEEN ? AND ?", [users[0], users.at(-1)]);
  expect(Number(stored[0]!.n)).toBe(pairs.length);
  expect((await eventRows(users[0]!, users.at(-1)! + 1)).length).toBe(pairs.length);
  for (const u of users) {
    const [c] = await select<{ followers: string; following: string }>(db, "SELECT followers, following FROM counts WHERE user_id = ?", [u]);
    const truth = await recount(db, BigInt(u));
    expect({ u, followers: c?.followers ?? "0", following: c?.following ?? "0" }).toEqual({ u, followers: String(truth.followers), following: String(truth.following) });
  }
});
