/**
 * The real Reed98 graph (962 Facebook users, 18,812 friendships) loaded through
 * GraphService as 37,624 follows (each friendship both ways, as DeathStarBench does):
 * every user's follower and following counts equal their degree in the file, and their
 * mutual fans are exactly their neighbours. Then 64 concurrent clients follow and
 * unfollow the same targets, and the counts still equal a recount from MySQL.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connectPool, select } from "#kit/mysql.ts";
import { readEdges } from "../../demo/data.ts";
import { startGraphTestbed, type GraphTestbed } from "./testing.ts";

let bed: GraphTestbed;
const edges = readEdges();
const members = [...new Set(edges.flat())].sort((a, b) => a - b);
const idOf = new Map<number, bigint>();

async function inParallel<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

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
  await inParallel(follows, 32, async ([from, to]) => {
    await bed.graph(idOf.get(from)!).follow({ userId: idOf.get(to)! });
  });
  console.log(`reed98: ${follows.length} follows in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

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
  await Promise.all(
    clients.map(async (c, i) => {
      for (let round = 0; round < 25; round++) {
        const t = targets[(i + round) % targets.length]!;
        if ((round + i) % 3 === 2) await bed.graph(c).unfollow({ userId: t });
        else await bed.graph(c).follow({ userId: t });
      }
    }),
  );
  const db = connectPool(process.env.OASIS_MYSQL_URL ?? "mysql://root@127.0.0.1:3306", `oasis_${bed.mesh.namespace}_graph`);
  try {
    const everyone = [...targets, ...clients];
    const served = await bed.graph().batchGetCounts({ userIds: everyone });
    for (const c of served.counts) {
      const [row] = await select<{ followers: string; following: string }>(
        db,
        "SELECT (SELECT COUNT(*) FROM follows WHERE followee_id = ?) AS followers, (SELECT COUNT(*) FROM follows WHERE follower_id = ?) AS following",
        [c.userId, c.userId],
      );
      expect([c.followers, c.following]).toEqual([BigInt(row!.followers), BigInt(row!.following)]);
    }
  } finally {
    await db.end();
  }
});
