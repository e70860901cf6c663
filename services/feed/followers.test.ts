/**
 * The fan-out's follower sets (followers.ts) on real processes: built from graph by the
 * first fan-out of an author, kept by follow, unfollow and block events, rebuilt when
 * dropped, and served without asking graph (graph's ListFollowerIds not called for a
 * post whose author's set is built); what followers who unfollowed or were blocked hold
 * is checked in Redis, where a feed read's rebuild could not hide a wrong push. Then the
 * set's scripts alone on Redis: the fence (a follow event during a rebuild keeps the
 * rebuild from being stored), idempotent events, batches and the fan-out threshold, and
 * the fan-out's first round trip (pushFirst).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Redis } from "ioredis";
import { createIdGenerator } from "#kit/ids.ts";
import { until } from "#kit/testing/until.ts";
import { counterSeries } from "../../bench/lib/histogram.ts";
import { readEdges, readFortunes } from "../../demo/data.ts";
import { startSocialTestbed, type SocialTestbed } from "../../testbeds/social.ts";
import { feedRedis, type FeedRedis } from "../../testbeds/feed.ts";
import { create } from "@bufbuild/protobuf";
import { PostSchema } from "#gen/oasis/post/v1/post_pb.ts";
import { FollowerSets } from "./followers.ts";
import { decodeStoredPost } from "./page-path/pieces.ts";
import { ReadModel } from "./read-model.ts";
import { Timelines } from "./timelines.ts";

let bed: SocialTestbed;
let keys: FeedRedis;
let ids: bigint[];
const members = [...new Set(readEdges().flat())].slice(520, 527);
const captions = readFortunes("en-food.fortune");
const sorted = (xs: bigint[]) => [...xs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

beforeAll(async () => {
  bed = await startSocialTestbed(["identity", "graph", "media", "post", "feed"], { env: { OASIS_FEED_FANOUT_BATCH: "2" } });
  keys = feedRedis(bed.mesh);
  ids = await bed.users(members);
});
afterAll(async () => {
  keys?.close();
  await bed?.stop();
});

async function post(user: bigint, i: number): Promise<bigint> {
  return (await bed.post(user).createPost({ mediaIds: [await bed.photo(user, i)], caption: captions[i]!.slice(0, 300) })).post!.postId;
}

/** Feed-side calls of graph's ListFollowerIds so far. */
async function followerListCalls(): Promise<number> {
  const series = await counterSeries(bed.mesh.metricsUrl("graph"), "grpc_server_handled_total");
  return [...series].filter(([labels]) => labels.includes('grpc_method="ListFollowerIds"')).reduce((a, [, v]) => a + v, 0);
}

/** Fan-outs of post_created the feed finished so far. */
async function fanouts(): Promise<number> {
  return [...(await counterSeries(bed.mesh.metricsUrl("feed"), "feed_fanout_lag_seconds_count"))].reduce((a, [, v]) => a + v, 0);
}

/** Posts and waits until the feed finished its fan-out (the outbox relays it after the reply). */
async function postAndFanOut(user: bigint, i: number): Promise<bigint> {
  const before = await fanouts();
  const id = await post(user, i);
  expect(await until(fanouts, (n) => n > before)).toBe(before + 1);
  await keys.idle();
  return id;
}

async function homeIds(user: bigint): Promise<bigint[]> {
  return (await bed.feed(user).getHomeFeed({ pageSize: 50 })).items.map((v) => v.post!.postId);
}

test("a follower set is built by the first fan-out, kept by follow, unfollow and block events, and rebuilt when dropped", async () => {
  const [author, a, b, c, d, e] = ids as [bigint, bigint, bigint, bigint, bigint, bigint];
  for (const f of [a, b, c]) await bed.graph(f).follow({ userId: author });
  for (const f of [a, b, c, d, e]) await homeIds(f); // active readers with built timelines
  await keys.idle();
  expect(await keys.followers(author)).toBeUndefined();

  // The first post asks graph (3 followers in batches of 2: two pages) and stores the set.
  const calls0 = await followerListCalls();
  const p1 = await postAndFanOut(author, 1);
  expect(await followerListCalls()).toBe(calls0 + 2);
  expect(await keys.followers(author)).toEqual(sorted([a, b, c]));
  expect(await keys.holders([a, b, c], [p1])).toEqual([3]);

  // d and e follow, a unfollows, the author blocks b (graph removes b's follow with a
  // follow_removed of its own): the set follows the events.
  await bed.graph(d).follow({ userId: author });
  await bed.graph(e).follow({ userId: author });
  await bed.graph(a).unfollow({ userId: author });
  await bed.graph(author).block({ userId: b });
  expect(await until(() => keys.followers(author), (v) => v?.length === 3)).toEqual(sorted([c, d, e]));
  await keys.idle();

  // The next post is pushed from the set (two batches), with no graph call.
  const calls1 = await followerListCalls();
  const p2 = await postAndFanOut(author, 2);
  expect(await followerListCalls()).toBe(calls1);
  for (const f of [c, d, e]) expect(await keys.home(f)).toContain(p2);
  for (const f of [a, b]) expect(await keys.home(f)).not.toContain(p2);
  expect(await keys.holders([a, b], [p1])).toEqual([0]); // unfollow and block took p1 away
  const hits = [...(await counterSeries(bed.mesh.metricsUrl("feed"), "feed_follower_sets_total"))].filter(([l]) => l.includes('result="hit"'));
  expect(hits.reduce((s, [, v]) => s + v, 0)).toBeGreaterThanOrEqual(1);
  // What the readers see: c, d and e the new post; a and b neither post.
  for (const f of [c, d, e]) expect(await homeIds(f)).toContain(p2);
  for (const f of [a, b]) expect(await homeIds(f)).not.toContain(p2);
  expect(await homeIds(b)).not.toContain(p1);

  // A dropped set is rebuilt from graph by the next post, with the same members.
  await keys.dropFollowers(author);
  const calls2 = await followerListCalls();
  const p3 = await postAndFanOut(author, 3);
  expect(await followerListCalls()).toBe(calls2 + 2);
  expect(await keys.followers(author)).toEqual(sorted([c, d, e]));
  expect(await keys.holders([a, b, c, d, e], [p3])).toEqual([3]);
});

test("the set's scripts: a follow event during a rebuild fences it; events are idempotent; batches; the threshold", async () => {
  const prefix = `t-followers-${process.pid}-${Date.now()}:`;
  const redis = new Redis(process.env.OASIS_REDIS_URL ?? "redis://127.0.0.1:6379", { keyPrefix: prefix });
  const plain = new Redis(process.env.OASIS_REDIS_URL ?? "redis://127.0.0.1:6379");
  try {
    const gen = createIdGenerator(1);
    const newId = () => gen.next();
    const sets = new FollowerSets(redis, 60);
    const [author, f1, f2, f3] = [newId(), newId(), newId(), newId()];
    const postId = newId();
    // Followers f1..f3 are active with built home timelines.
    for (const f of [f1, f2, f3]) await redis.multi().zadd("active", Date.now(), String(f)).set(`hb:${f}`, "1").exec();
    const miss = await sets.push(author, 0, 2, 100, 800, 0, [postId]);
    expect(miss).toEqual({ kind: "miss", version: "" });
    // A follow event while graph was being asked: the rebuild is not stored.
    await sets.changed(author, f3, true);
    expect(await sets.store(author, "", [f1, f2])).toBe(false);
    expect(await sets.read(author)).toBeUndefined();
    // Asked again: stored.
    const again = await sets.push(author, 0, 2, 100, 800, 0, [postId]);
    expect(again.kind).toBe("miss");
    expect(await sets.store(author, (again as { version: string }).version, [f1, f2, f3])).toBe(true);
    expect(sorted((await sets.read(author))!)).toEqual(sorted([f1, f2, f3]));
    // Events apply to a built set; the same event twice changes nothing more.
    await sets.changed(author, f2, false);
    await sets.changed(author, f2, false);
    expect(sorted((await sets.read(author))!)).toEqual(sorted([f1, f3]));
    await sets.changed(author, f2, true);
    // Three followers in batches of two: ranks 0-1, then 2; each post lands once.
    const first = await sets.push(author, 0, 2, 100, 800, 0, [postId]);
    const second = await sets.push(author, 2, 2, 100, 800, 0, [postId]);
    expect([first, second]).toEqual([{ kind: "pushed", delivered: 2, followers: 3 }, { kind: "pushed", delivered: 1, followers: 3 }]);
    for (const f of [f1, f2, f3]) expect(await redis.zrange(`ht:${f}`, "0", "-1")).toEqual([String(postId)]);
    expect(await sets.push(author, 0, 2, 100, 800, 0, [postId])).toEqual({ kind: "pushed", delivered: 0, followers: 3 });
    // Above the threshold nothing is pushed.
    expect(await sets.push(author, 0, 2, 2, 800, 0, [newId()])).toEqual({ kind: "celeb", followers: 3 });
    // An author without followers: built and empty.
    const lonely = newId();
    expect(await sets.store(lonely, "", [])).toBe(true);
    expect(await sets.read(lonely)).toEqual([]);
    expect(await sets.push(lonely, 0, 2, 100, 800, 0, [postId])).toEqual({ kind: "pushed", delivered: 0, followers: 0 });
  } finally {
    const left = await plain.keys(`${prefix}*`);
    if (left.length) await plain.del(...left);
    redis.disconnect();
    plain.disconnect();
  }
});

test("the fan-out's first round trip: seed, author's timeline, celebrity check and first batch in one script, as the three calls did", async () => {
  const prefix = `t-first-${process.pid}-${Date.now()}:`;
  const redis = new Redis(process.env.OASIS_REDIS_URL ?? "redis://127.0.0.1:6379", { keyPrefix: prefix });
  const plain = new Redis(process.env.OASIS_REDIS_URL ?? "redis://127.0.0.1:6379");
  try {
    const gen = createIdGenerator(1);
    const newId = () => gen.next();
    const sets = new FollowerSets(redis, 60);
    const [author, f1, f2, f3, idle] = [newId(), newId(), newId(), newId(), newId()];
    const post = (id: bigint) => create(PostSchema, { postId: id, authorId: author, caption: `post ${id}` });
    const first = (id: bigint, threshold = 100) => sets.pushFirst(author, id, ReadModel.seedParts(post(id)), 800, 2, threshold, 800, Date.now() - 60_000);
    // f1..f3 active with built home timelines; `idle` built but not read lately.
    for (const f of [f1, f2, f3]) await redis.multi().zadd("active", Date.now(), String(f)).set(`hb:${f}`, "1").exec();
    await redis.multi().zadd("active", 1, String(idle)).set(`hb:${idle}`, "1").exec();
    // No follower set yet: seeded and a miss with the version to fence the rebuild with;
    // the author's timeline is not built, so nothing lands there.
    const p1 = newId();
    expect(await first(p1)).toEqual({ kind: "miss", version: "" });
    expect(decodeStoredPost((await redis.getBuffer(`rm:post:${p1}`))!)?.caption).toBe(`post ${p1}`);
    expect(await redis.exists(`rm:counts:${p1}`, `rm:whole:${p1}`, `ut:${author}`)).toBe(2);
    // Built set and author's timeline: the first batch of two pushed, ranks from 2 left to push().
    expect(await sets.store(author, "", [f1, f2, f3, idle])).toBe(true);
    await redis.set(`ub:${author}`, "1");
    const p2 = newId();
    expect(await first(p2)).toEqual({ kind: "pushed", delivered: 2, followers: 4 });
    expect(await sets.push(author, 2, 2, 100, 800, Date.now() - 60_000, [p2])).toEqual({ kind: "pushed", delivered: 1, followers: 4 });
    for (const f of [f1, f2, f3]) expect(await redis.zrange(`ht:${f}`, "0", "-1")).toEqual([String(p2)]);
    expect(await redis.zcard(`ht:${idle}`)).toBe(0);
    expect(await redis.zrange(`ut:${author}`, "0", "-1")).toEqual([String(p2)]);
    expect(await redis.get("delivered:user")).toBe("1");
    // The seed never overwrites what an event wrote (a second run of the same post writes nothing new).
    await redis.set(`rm:post:${p2}`, "edited");
    expect(await first(p2)).toEqual({ kind: "pushed", delivered: 0, followers: 4 });
    expect(await redis.get(`rm:post:${p2}`)).toBe("edited");
    // Above the threshold: nothing pushed, the author joins the read-time merge list...
    const p3 = newId();
    expect(await first(p3, 3)).toEqual({ kind: "celeb", followers: 4 });
    expect(await redis.sismember("celebs", String(author))).toBe(1);
    for (const f of [f1, f2, f3]) expect(await redis.zrange(`ht:${f}`, "0", "-1")).toEqual([String(p2)]);
    // ...and then the post is seeded and on the author's timeline, nothing pushed to followers.
    const p4 = newId();
    expect(await first(p4)).toEqual({ kind: "merged" });
    expect(await redis.exists(`rm:post:${p4}`)).toBe(1);
    expect(await redis.zrange(`ut:${author}`, "0", "-1")).toEqual([p2, p3, p4].map(String));
    for (const f of [f1, f2, f3]) expect(await redis.zrange(`ht:${f}`, "0", "-1")).toEqual([String(p2)]);
  } finally {
    const left = await plain.keys(`${prefix}*`);
    if (left.length) await plain.del(...left);
    redis.disconnect();
    plain.disconnect();
  }
});

test("a follow's backfill script: the followee's newest posts into a built home timeline, once; -1 when the followee's timeline is not built", async () => {
  const prefix = `t-backfill-${process.pid}-${Date.now()}:`;
  const redis = new Redis(process.env.OASIS_REDIS_URL ?? "redis://127.0.0.1:6379", { keyPrefix: prefix });
  const plain = new Redis(process.env.OASIS_REDIS_URL ?? "redis://127.0.0.1:6379");
  try {
    // A clock one millisecond further at every id: the timeline's scores differ.
    let ms = Date.now();
    const gen = createIdGenerator(1, () => ms++);
    const [followee, follower, away] = [gen.next(), gen.next(), gen.next()];
    const timelines = new Timelines(redis, 3, 800, 60);
    // Not built: nothing done, the caller builds it.
    expect(await timelines.backfill(followee, follower, 2)).toBe(-1);
    // Home first (OASIS_FEED_BACKFILL_BUILT_HOME_FIRST): an unbuilt home needs nothing
    // built, 0; a built home still gets -1 (the followee's timeline must be built).
    expect(await timelines.backfill(followee, follower, 2, true)).toBe(0);
    await redis.set(`hb:${away}`, "1");
    expect(await timelines.backfill(followee, away, 2, true)).toBe(-1);
    await redis.del(`hb:${away}`);
    const posts = [gen.next(), gen.next(), gen.next(), gen.next()];
    await timelines.writeUser(followee, posts);
    await redis.set(`hb:${follower}`, "1");
    await redis.zadd(`ht:${follower}`, 1, "7");
    // The two newest, as page() then pushHome() would; again adds nothing.
    expect(await timelines.backfill(followee, follower, 2)).toBe(2);
    expect(await timelines.page("ht", follower, undefined, 10)).toEqual({ ids: [posts[3]!, posts[2]!, 7n], more: false });
    expect(await timelines.backfill(followee, follower, 2)).toBe(0);
    // The home cap (3) holds: the oldest entry goes.
    expect(await timelines.backfill(followee, follower, 4)).toBe(2);
    expect((await timelines.page("ht", follower, undefined, 10)).ids).toEqual([posts[3]!, posts[2]!, posts[1]!]);
    // A home timeline that is not built gets nothing (it is rebuilt on read).
    expect(await timelines.backfill(followee, away, 2)).toBe(0);
    expect(await timelines.backfill(followee, away, 2, true)).toBe(0);
    expect(await redis.exists(`ht:${away}`)).toBe(0);
    // Home first, built home, built followee: as without it (the oldest of the four is
    // new again, counted, and trimmed by the cap again).
    expect(await timelines.backfill(followee, follower, 4, true)).toBe(1);
    expect((await timelines.page("ht", follower, undefined, 10)).ids).toEqual([posts[3]!, posts[2]!, posts[1]!]);
  } finally {
    const left = await plain.keys(`${prefix}*`);
    if (left.length) await plain.del(...left);
    redis.disconnect();
    plain.disconnect();
  }
});
