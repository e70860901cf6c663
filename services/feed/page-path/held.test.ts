/**
 * Held pieces (held.ts) against a real Redis: a page path that holds posts, counters and
 * profiles and reads pages lean answers, after every change to any piece, the page a
 * page path with nothing held or kept computes from Redis at that moment; its lean reads
 * put back held pieces (hits), read only what is new or changed, and a lean reply whose
 * post changed before the pieces were read again is refused (read in full). A read model
 * is written straight into Redis in the page script's formats, as in tracking.test.ts.
 * A fourth page path has design note 59's switches on (watched keys, items' JSON as
 * spliced bytes, coalesced writes): the same pages, and the same JSON as the text one.
 * Rendered items are keyed by the held pieces' serials (design note 66), so a stale item
 * after a change to a held piece would show here. Every lean read keeps its page by the lean reply and the values put back (design note
 * 62); the changes include the viewer's refer marker and the viewer's state of a post not
 * seen whole, which the page script reads in one EXISTS and one MGET.
 */
import { afterAll, expect, test } from "bun:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { ViewerStateSchema } from "#gen/oasis/interaction/v1/interaction_pb.ts";
import { Redis } from "ioredis";
import { GetHomeFeedRequestSchema, GetUserFeedRequestSchema } from "#gen/oasis/feed/v1/feed_service_pb.ts";
import { idTimeMs } from "#kit/ids.ts";
import { coalesceWrites, deleteKeysWithPrefix } from "#kit/redis.ts";
import { testNamespace } from "#kit/testing/namespace.ts";
import { FeedPagePath, ItemCache, PageReuse } from "./index.ts";
import { readRawPieces, splitParts, withPageScript } from "./pieces.ts";
import { pagePathFixture, storedCounts as counts, storedPost as post, storedProfile as profile, storedRel as rel } from "./testing.ts";

const url = process.env.OASIS_REDIS_URL ?? "redis://127.0.0.1:6379";
const ns = testNamespace();
const P = `${ns}:oasis:feed:`;
const [conn, trackConn, other, plainConn, watchConn] = [new Redis(url), new Redis(url), new Redis(url), new Redis(url), coalesceWrites(new Redis(url))];
afterAll(async () => {
  for (const c of [conn, trackConn, other, plainConn, watchConn]) c.disconnect();
  await deleteKeysWithPrefix(url, `${ns}:`);
});

const fixture = pagePathFixture(9, { userTimeline: true });
const { ids, V, A, B, posts, referred } = fixture;
const seed = () => fixture.seed(other, P);

// Held alone (kept pages not tracked), and held with everything else on; against nothing kept.
const held = new FeedPagePath(conn, P, { reuse: new PageReuse(100), items: new ItemCache(1000), held: 1000, sets: true, tightWindow: true });
const heldTracked = new FeedPagePath(trackConn, P, { reuse: new PageReuse(100), items: new ItemCache(1000), held: 1000, tracking: true, sets: true, tightWindow: true });
const plain = new FeedPagePath(plainConn, P, { sets: true, tightWindow: true });
const heldWatched = new FeedPagePath(watchConn, P, { reuse: new PageReuse(100), items: new ItemCache(1000, undefined, true), held: 1000, tracking: true, watchedKeys: true, sets: true, tightWindow: true });
const home = create(GetHomeFeedRequestSchema, { pageSize: 10 });
const user = create(GetUserFeedRequestSchema, { userId: A, pageSize: 5 });

/** The home and user pages as each page path answers them now (base64 of the bytes, or the miss). */
async function pages(): Promise<string[][]> {
  const show = (x: Awaited<ReturnType<FeedPagePath["homeEncoded"]>>) => (x.served ? Buffer.from(x.response.bytes).toString("base64") : `miss:${x.reason}`);
  const out: string[][] = [];
  const json = (x: Awaited<ReturnType<FeedPagePath["homeEncoded"]>>) => (x.served ? Buffer.from(x.response.json ?? "").toString() : "");
  for (const p of [held, heldTracked, plain, heldWatched]) {
    const [h, u] = [await p.homeEncoded(home, V), await p.userEncoded(user, V)];
    out.push([show(h), show(u), json(h), json(u)]);
  }
  return out;
}

async function same(what: string): Promise<string[]> {
  const [a, b, truth, d] = await pages();
  expect({ what, held: a!.slice(0, 2) }).toEqual({ what, held: truth!.slice(0, 2) });
  expect({ what, heldTracked: b!.slice(0, 2) }).toEqual({ what, heldTracked: truth!.slice(0, 2) });
  expect({ what, heldWatched: d!.slice(0, 2) }).toEqual({ what, heldWatched: truth!.slice(0, 2) });
  // The spliced JSON bytes are the text JSON's.
  expect({ what, json: d!.slice(2) }).toEqual({ what, json: a!.slice(2) });
  return truth!.slice(0, 2);
}

test("lean reads with held pieces answer the page a full read computes, across a change to any piece", async () => {
  await seed();
  const ready = () => held.held!.ready && heldTracked.held!.ready && heldWatched.held!.ready;
  for (let i = 0; i < 200 && !ready(); i++) await Bun.sleep(5);
  expect(ready()).toBe(true);
  let page = await same("first read");
  expect(page[0]).not.toMatch(/^miss/);
  expect(page[1]).not.toMatch(/^miss/);
  const fetchedFirst = held.held!.fetched;
  expect(fetchedFirst).toBeGreaterThan(0);
  // Nothing changed: the second read puts back only held pieces.
  const hits = held.held!.hits;
  page = await same("nothing changed");
  expect(held.held!.fetched).toBe(fetchedFirst);
  expect(held.held!.hits).toBeGreaterThan(hits);

  const changes: Array<[string, () => Promise<unknown>]> = [
    ["a post's caption", () => other.set(`${P}rm:post:${posts[13]}`, post(posts[13]!, A, "edited"))],
    ["a post's counters", () => other.set(`${P}rm:counts:${posts[12]}`, counts(posts[12]!, 99n))],
    ["a like by the viewer", () => other.sadd(`${P}rm:likers:${posts[11]}`, String(V))],
    ["the author's profile", () => other.set(`${P}rm:author:${A}`, profile(A, "Ann B."))],
    ["the referred post", () => other.set(`${P}rm:post:${referred}`, post(referred, B, "the referred one, edited"))],
    ["a relationship pair (a mute)", () => other.set(`${P}rm:rel:${V}:${B}`, rel(B, { following: true, muting: true }))],
    ["a post pushed to both timelines", async () => {
      const id = ids.next();
      await other.multi().set(`${P}rm:post:${id}`, post(id, A, "new")).set(`${P}rm:counts:${id}`, counts(id, 0n)).set(`${P}rm:whole:${id}`, "1")
        .zadd(`${P}ht:${V}`, idTimeMs(id), String(id)).zadd(`${P}ut:${A}`, idTimeMs(id), String(id)).exec();
    }],
    ["a refer-to by the viewer", () => other.sadd(`${P}rm:ref:${V}:${posts[7]}`, String(ids.next()))],
    ["a post not seen whole, with the viewer's state", () =>
      other.multi().del(`${P}rm:whole:${posts[9]}`).set(`${P}rm:state:${V}:${posts[9]}`, Buffer.from(toBinary(ViewerStateSchema, create(ViewerStateSchema, { postId: posts[9]!, liked: true })))).exec()],
    ["a post deleted (tombstone)", () => other.set(`${P}rm:post:${posts[11]}`, "\x01")],
    ["a profile gone", () => other.del(`${P}rm:author:${B}`)],
    ["the profile back", () => other.set(`${P}rm:author:${B}`, profile(B, "Bo again"))],
    ["the mute undone", () => other.set(`${P}rm:rel:${V}:${B}`, rel(B, { following: true }))],
  ];
  for (const [what, change] of changes) {
    await change();
    // A change is seen by the page path once a reply on its connection followed the
    // change's invalidation: the page read right after (the first read) must show it.
    const now = await same(what);
    expect({ what, changed: now.join() !== page.join() }).toEqual({ what, changed: true });
    page = now;
  }

  // Counters that expire: a lean read finds them absent, as a full read does.
  await other.pexpire(`${P}rm:counts:${posts[9]}`, 20);
  while ((await other.exists(`${P}rm:counts:${posts[9]}`)) === 1) await Bun.sleep(5);
  const expired = await same("counters expired");
  expect(expired[0]).toBe("miss:counts");
  await other.set(`${P}rm:counts:${posts[9]}`, counts(posts[9]!, 9n));
  await same("counters back");
  // The watched keys were remembered (the held pieces' and the tracked reads' keys).
  expect(heldWatched.tracker!.watchedSize).toBeGreaterThan(0);
  expect(heldTracked.tracker!.watchedSize).toBe(0);
  // Items are kept by the held pieces' serials (design note 66) and found again.
  expect(held.items!.hits).toBeGreaterThan(0);
  expect(heldWatched.items!.hits).toBeGreaterThan(0);
});

test("a lean reply whose post changed before its pieces were read again is refused", async () => {
  const fresh = new FeedPagePath(new Redis(url), P, { held: 1000, sets: true });
  try {
    for (let i = 0; i < 200 && !fresh.held!.ready; i++) await Bun.sleep(5);
    const r = withPageScript((fresh as unknown as { redis: Redis }).redis);
    const q = { prefix: P, kind: "ut" as const, owner: A, viewer: V, before: undefined, beforeMs: undefined, window: 4, nowMs: Date.now(), sets: true };
    const lean = await readRawPieces(r, q, undefined, { lean: true });
    const full = await readRawPieces(r, q);
    if (!lean.ok || !lean.raw || !full.ok || !full.raw) throw new Error("the user timeline was not read");
    expect(lean.raw.length).toBeLessThan(full.raw.length);
    // Nothing held yet: every piece is read, and the parts put back are the full reply's, byte for byte.
    const put = await fresh.held!.expandValues(lean.raw);
    expect(put?.parts.map((x) => x.toString("base64"))).toEqual(splitParts(full.raw).map((x) => x.toString("base64")));
    // The newest post of the timeline deleted after the lean read, and not held: refused.
    const top = (await other.zrevrange(`${P}ut:${A}`, 0, 0))[0]!;
    const lean2 = await readRawPieces(r, q, undefined, { lean: true });
    if (!lean2.ok || !lean2.raw) throw new Error("the user timeline was not read");
    await other.set(`${P}rm:post:${top}`, "\x01");
    // The tombstone's invalidation arrives on the connection before this reply: the post is no longer held.
    await r.ping();
    const before = fresh.held!.fallbacks;
    expect(await fresh.held!.expandValues(lean2.raw)).toBeUndefined();
    expect(fresh.held!.fallbacks).toBe(before + 1);
  } finally {
    (fresh as unknown as { redis: Redis }).redis.disconnect();
  }
});
