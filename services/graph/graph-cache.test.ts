/**
 * graph-cache.ts against a real Redis (MySQL replaced by a table in memory, so the test
 * sees when the cache loads): a new follow amends both users' cached lists in edge-id
 * order and their counts, never adds an edge twice, drops an entry another writer
 * changed since the versions were read, fences a reader that loaded before the follow,
 * and drops a list that would pass the size limit.
 */
import { afterAll, expect, test } from "bun:test";
import type { Pool } from "#kit/mysql.ts";
import { createLogger } from "#kit/logger.ts";
import { createRedis, deleteKeysWithPrefix } from "#kit/redis.ts";
import { testNamespace } from "#kit/testing/namespace.ts";
import { GraphCache } from "./graph-cache.ts";

const url = process.env.OASIS_REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = `${testNamespace()}:graphcachetest:`;
const redis = createRedis({ url, keyPrefix: prefix, log: createLogger("graph-cache-test", "silent") });
afterAll(async () => {
  redis.disconnect();
  await deleteKeysWithPrefix(url, prefix);
});

/** Edge ids above 2^53, as kit/ids.ts makes them, so the Lua's byte order is what is tested. */
const e = (n: number) => (1n << 60n) + BigInt(n);

/** A stand-in for graph's MySQL: follows (edge id, follower, followee) and counts; counts its loads. */
function fakeDb(follows: Array<[bigint, bigint, bigint]>, counts: Map<bigint, [number, number]>) {
  const db = {
    loads: 0,
    async query(sql: string, params: unknown[]) {
      db.loads++;
      if (sql.includes("FROM follows")) {
        const [col, user] = [sql.includes("WHERE followee_id") ? 2 : 1, params[0] as bigint];
        const rows = follows.filter((f) => f[col] === user).sort((a, b) => (a[0] > b[0] ? -1 : 1));
        return [rows.map((f) => ({ id: String(f[0]), u: String(f[col === 2 ? 1 : 2]) }))];
      }
      const ids = params[0] as bigint[];
      return [ids.filter((id) => counts.has(id)).map((id) => ({ user_id: String(id), followers: String(counts.get(id)![0]), following: String(counts.get(id)![1]) }))];
    },
  };
  return db;
}

const ids = (list: { userIds(): bigint[] } | undefined) => list?.userIds();

test("a follow amends both cached lists in edge-id order and both counts, without loading", async () => {
  const [a, b, c, d] = [101n, 102n, 103n, 104n];
  const db = fakeDb(
    [
      [e(30), a, c],
      [e(10), a, d],
      [e(5), c, b],
    ],
    new Map([
      [a, [0, 2]],
      [b, [1, 0]],
    ]),
  );
  const cache = new GraphCache(redis, db as unknown as Pool, 100);
  expect(ids(await cache.list("following", a))).toEqual([c, d]);
  expect(ids(await cache.list("followers", b))).toEqual([c]);
  await cache.getCounts([a, b]);
  const loads = db.loads;
  // a follows b with an edge id between the two it has (a follow that committed late).
  const seen = await cache.followVersions(a, b);
  await cache.followAdded(a, b, e(20), seen!);
  expect(ids(await cache.list("following", a))).toEqual([c, b, d]);
  expect((await cache.list("following", a))!.page(undefined, 3).map((x) => x.edgeId)).toEqual([e(30), e(20), e(10)]);
  expect(ids(await cache.list("followers", b))).toEqual([a, c]);
  const counts = await cache.getCounts([a, b]);
  expect(counts.get(a)).toEqual({ followers: 0n, following: 3n });
  expect(counts.get(b)).toEqual({ followers: 2n, following: 0n });
  expect(db.loads).toBe(loads);
});

test("an edge already on a list (loaded after the commit) is not added again", async () => {
  const [a, b] = [201n, 202n];
  const db = fakeDb([[e(7), a, b]], new Map());
  const cache = new GraphCache(redis, db as unknown as Pool, 100);
  const seen = await cache.followVersions(a, b);
  // A reader loads both lists after the follow's commit, before its followAdded.
  expect(ids(await cache.list("following", a))).toEqual([b]);
  expect(ids(await cache.list("followers", b))).toEqual([a]);
  await cache.followAdded(a, b, e(7), seen!);
  expect(ids(await cache.list("following", a))).toEqual([b]);
  expect(ids(await cache.list("followers", b))).toEqual([a]);
});

test("an entry another writer changed since the versions were read is dropped, the others amended", async () => {
  const [a, b, c] = [301n, 302n, 303n];
  const follows: Array<[bigint, bigint, bigint]> = [[e(1), c, b]];
  const db = fakeDb(follows, new Map());
  const cache = new GraphCache(redis, db as unknown as Pool, 100);
  expect(ids(await cache.list("following", a))).toEqual([]);
  expect(ids(await cache.list("followers", b))).toEqual([c]);
  const seen = await cache.followVersions(a, b);
  // Meanwhile c unfollows b: its writer drops b's entries after its commit.
  follows.length = 0;
  await cache.invalidate([b]);
  expect(ids(await cache.list("followers", b))).toEqual([]);
  follows.push([e(2), a, b]);
  await cache.followAdded(a, b, e(2), seen!);
  expect((await cache.cachedLists(b)) ?? "dropped").toBe("dropped");
  expect(ids(await cache.list("followers", b))).toEqual([a]);
  expect(ids(await cache.list("following", a))).toEqual([b]);
});

test("a reader that loaded before the follow cannot store its list afterwards", async () => {
  const [a, b] = [401n, 402n];
  const follows: Array<[bigint, bigint, bigint]> = [];
  const db = fakeDb(follows, new Map());
  const cache = new GraphCache(redis, db as unknown as Pool, 100);
  const seen = await cache.followVersions(a, b);
  const query = db.query;
  db.query = async (sql, params) => {
    const out = await query(sql, params); // the list as it was before the follow
    follows.push([e(3), a, b]);
    await cache.followAdded(a, b, e(3), seen!);
    return out;
  };
  expect(ids(await cache.list("followers", b))).toEqual([]);
  db.query = query;
  expect(ids(await cache.list("followers", b))).toEqual([a]);
});

test("a list that would pass the size limit is dropped, and is then served from MySQL", async () => {
  const [a, b, c, d] = [501n, 502n, 503n, 504n];
  const follows: Array<[bigint, bigint, bigint]> = [
    [e(1), c, b],
    [e(2), d, b],
  ];
  const db = fakeDb(follows, new Map());
  const cache = new GraphCache(redis, db as unknown as Pool, 2);
  expect(ids(await cache.list("followers", b))).toEqual([d, c]);
  const seen = await cache.followVersions(a, b);
  follows.push([e(3), a, b]);
  await cache.followAdded(a, b, e(3), seen!);
  expect(await cache.list("followers", b)).toBeUndefined();
});
