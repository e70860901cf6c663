/**
 * The real Reed98 graph (962 Facebook users, 18,812 friendships) loaded through
 * GraphService as 37,624 follows (each friendship both ways, as DeathStarBench does):
 * every tenth as a single Follow (32 in flight) while the rest go in as a follow import
 * (BatchCreateFollows, each member's follows in calls of up to 100, 4 in flight, as the
 * demo loads them), so both paths write the same members' rows and counts at once. Then
 * every user's follower and following counts equal their degree in the file, and their
 * mutual fans are exactly their neighbours. (All 37,624 as single Follows took 183 s of
 * the last CI; the single path's races are the next test's.) Then 64 concurrent clients follow and
 * unfollow the same targets, each sending 2-4 identical calls at once on one pair, and
 * the counts still equal a recount from MySQL.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { inParallel } from "#kit/parallel.ts";
import { readEdges } from "../../demo/data.ts";
import { recount } from "./store.ts";
import { startGraphTestbed, type GraphTestbed } from "../../testbeds/graph.ts";

let bed: GraphTestbed;
const edges = readEdges();
const members = [...new Set(edges.flat())].sort((a, b) => a - b);
const idOf = new Map<number, bigint>();

beforeAll(async () => {
  bed = await startGraphTestbed();
  const ids = await bed.accounts(members, { concurrency: 16 });
  members.forEach((n, i) => idOf.set(n, ids[i]!));
}, 600_000);
afterAll(() => bed?.stop());

test("962 users, 37,624 follows: counts equal degrees, mutual fans equal neighbours", async () => {
  const follows = edges.flatMap(([u, v]) => [[u, v], [v, u]] as Array<[number, number]>);
  expect(follows.length).toBe(37_624);
  const t0 = performance.now();
  const single = follows.filter((_, i) => i % 10 === 0);
  const byFollower = new Map<number, number[]>();
  follows.forEach(([from, to], i) => i % 10 !== 0 && (byFollower.get(from) ?? byFollower.set(from, []).get(from)!).push(to));
  const calls: Array<[number, number[]]> = [];
  for (const [from, tos] of byFollower) for (let i = 0; i < tos.length; i += 100) calls.push([from, tos.slice(i, i + 100)]);
  expect(single.length + calls.reduce((n, [, tos]) => n + tos.length, 0)).toBe(37_624);
  await Promise.all([
    inParallel(single, 32, async ([from, to]) => {
      await bed.graph(idOf.get(from)!).follow({ userId: idOf.get(to)! });
    }),
    inParallel(calls, 4, async ([from, tos]) => {
      const res = await bed.graph(idOf.get(from)!).batchCreateFollows({ userIds: tos.map((to) => idOf.get(to)!) });
      expect(res.results.length).toBe(tos.length);
    }),
  ]);
  console.log(`reed98: ${follows.length} follows (${single.length} single, ${follows.length - single.length} in ${calls.length} imports) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

  const degree = new Map<number, number>();
  const neighbours = new Map<number, Set<bigint>>();
  for (const [u, v] of edges) {
    degree.set(u, (degree.get(u) ?? 0) + 1);
    degree.set(v, (degree.get(v) ?? 0) + 1);
    (neighbours.get(u) ?? neighbours.set(u, new Set()).get(u)!).add(idOf.get(v)!);
    (neighbours.get(v) ?? neighbours.set(v, new Set()).get(v)!).add(idOf.get(u)!);
  }
  const counts = await bed.graph().batchGetCounts({ userIds: members.map((n) => idOf.get(n)!) });
  expect(counts.counts.length).toBe(962);
  let checked = 0;
  for (const [i, c] of counts.counts.entries()) {
    const d = BigInt(degree.get(members[i]!)!);
    expect([c.followers, c.following]).toEqual([d, d]);
    checked++;
  }
  expect(checked).toBe(962);

  await inParallel(members, 16, async (n) => {
    const me = idOf.get(n)!;
    const got = new Set<bigint>();
    let token = "";
    do {
      const page = await bed.graph(me).listMutualFans({ userId: me, pageSize: 1000, pageToken: token });
      for (const u of page.users) got.add(u.userId);
      token = page.nextPageToken;
    } while (token);
    expect(got).toEqual(neighbours.get(n)!);
  });
}, 900_000);

test("64 concurrent clients following and unfollowing the same targets: counts equal a recount", async () => {
  const clients = members.slice(100, 164).map((n) => idOf.get(n)!);
  const targets = members.slice(0, 4).map((n) => idOf.get(n)!);
  /** Whether each client follows each target after its last round ("client:target"). */
  const expected = new Map<string, boolean>();
  await Promise.all(
    clients.map(async (c, i) => {
      for (let round = 0; round < 25; round++) {
        const t = targets[(i + round) % targets.length]!;
        const follow = (round + i) % 3 !== 2;
        // 2 to 4 identical calls on the same pair at once: a check-then-insert (or
        // check-then-delete) would count one change twice.
        const copies = 2 + ((i * 7 + round) % 3);
        await Promise.all(
          Array.from({ length: copies }, () => (follow ? bed.graph(c).follow({ userId: t }) : bed.graph(c).unfollow({ userId: t }))),
        );
        expected.set(`${c}:${t}`, follow);
      }
    }),
  );
  const db = bed.graphDb();
  const everyone = [...targets, ...clients];
  const served = await bed.graph().batchGetCounts({ userIds: everyone });
  expect(served.counts.length).toBe(everyone.length);
  for (const c of served.counts) {
    const stored = await recount(db, c.userId);
    expect({ user: c.userId, followers: c.followers, following: c.following }).toEqual({ user: c.userId, ...stored });
  }
  // And each pair ended as its last round left it.
  for (const c of clients) {
    const rel = await bed.graph(c).batchGetRelationships({ userIds: targets });
    expect(rel.relationships.map((r) => [r.userId, r.following])).toEqual(targets.map((t) => [t, expected.get(`${c}:${t}`)!]));
  }
});
