/**
 * Tracked pages (tracking.ts) against a real Redis: a kept page whose keys are tracked is
 * answered after the checks alone while nothing it shows changed, and never once a piece
 * changed. A read model is written straight into Redis in the page script's formats; the
 * page path with reuse, items and tracking reads the viewer's home page until it is
 * tracked, then each piece is changed in turn by another connection (a post, its
 * counters, a like, the viewer's refer marker and state, the author's profile, a
 * relationship pair, the viewer's relationship set, a referred post, the timeline, the
 * settings, a tombstone, a key expiring) and by the page path's own connection (a
 * relationship write through the edge), and the next read must equal the page a page
 * path without anything kept computes from Redis at that moment, and differ from the
 * page before. A page served from the kept bytes across a change fails it. A connection
 * that closes forgets what it tracked. Both again with watched keys (tracking.ts
 * watchedKeys: only keys not tracked yet read with EXISTS).
 */
import { afterAll, expect, test } from "bun:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { Redis } from "ioredis";
import { GetHomeFeedRequestSchema } from "#gen/oasis/feed/v1/feed_service_pb.ts";
import { ViewerStateSchema } from "#gen/oasis/interaction/v1/interaction_pb.ts";
import { idTimeMs } from "#kit/ids.ts";
import { deleteKeysWithPrefix } from "#kit/redis.ts";
import { testNamespace } from "#kit/testing/namespace.ts";
import { FeedPagePath, ItemCache, PageReuse } from "./index.ts";
import { pagePathFixture, storedCounts as counts, storedPost as post, storedProfile as profile, storedRel as rel } from "./testing.ts";

const url = process.env.OASIS_REDIS_URL ?? "redis://127.0.0.1:6379";
const namespaces: string[] = [];
afterAll(async () => {
  for (const ns of namespaces) await deleteKeysWithPrefix(url, `${ns}:`);
});

// Each test twice: a tracked read reads every key of its page with EXISTS (watched keys
// off), and only those Redis does not track for the connection yet (on, design note 59:
// a key left out must still end the page when it changes).
for (const watchedKeys of [false, true]) {
  const ns = testNamespace();
  namespaces.push(ns);
  const P = `${ns}:oasis:feed:`;
  const [conn, other, plainConn] = [new Redis(url), new Redis(url), new Redis(url)];
  afterAll(() => {
    conn.disconnect();
    other.disconnect();
    plainConn.disconnect();
  });


  const fixture = pagePathFixture(7);
  const { ids, V, A, B, posts, referred } = fixture;
  const seed = () => fixture.seed(other, P);

  const tracked = new FeedPagePath(conn, P, { reuse: new PageReuse(100), items: new ItemCache(1000), tracking: true, sets: true, watchedKeys });
  const plain = new FeedPagePath(plainConn, P, { sets: true });
  const req = create(GetHomeFeedRequestSchema, { pageSize: 10 });
  const key = `ht:${V}:${V}:10:`;

  /** The page as the tracking page path answers it now, and as one with nothing kept computes it. */
  async function both(): Promise<[string, string]> {
    const [a, b] = [await tracked.homeEncoded(req, V), await plain.homeEncoded(req, V)];
    const show = (x: typeof a) => (x.served ? Buffer.from(x.response.bytes).toString("base64") : `miss:${x.reason}`);
    return [show(a), show(b)];
  }

  /**
   * Reads until the page is tracked (kept, then tracked on the next read), then once more:
   * answered unchanged. The first read comes first: a change made just before is known
   * here only once a reply on the connection followed its invalidation.
   */
  async function untilTracked(): Promise<string> {
    await both();
    for (let i = 0; i < 4 && !tracked.reuse!.peek(key)?.tracked?.valid; i++) await both();
    expect(tracked.reuse!.peek(key)?.tracked?.valid).toBe(true);
    const before = tracked.reuse!.unchanged;
    const [page, truth] = await both();
    expect(page).toBe(truth);
    expect(tracked.reuse!.unchanged).toBe(before + 1);
    return page;
  }

  test(`a tracked page is answered unchanged, and never across a change to any of its pieces (watched keys ${watchedKeys ? "on" : "off"})`, async () => {
    await seed();
    // Wait until tracking is on for the connection (CLIENT TRACKING's reply).
    for (let i = 0; i < 200 && !tracked.tracker!.ready; i++) await Bun.sleep(5);
    expect(tracked.tracker!.ready).toBe(true);
    let page = await untilTracked();

    const changes: Array<[string, () => Promise<unknown>]> = [
      ["a post's caption", () => other.set(`${P}rm:post:${posts[13]}`, post(posts[13]!, A, "edited"))],
      ["a post's counters", () => other.set(`${P}rm:counts:${posts[12]}`, counts(posts[12]!, 99n))],
      ["a like by the viewer", () => other.sadd(`${P}rm:likers:${posts[11]}`, String(V))],
      ["the viewer's refer marker", () => other.set(`${P}rm:ref:${V}:${posts[10]}`, "1")],
      ["the viewer's state of an older post", () => other.multi().del(`${P}rm:whole:${posts[9]}`).set(`${P}rm:state:${V}:${posts[9]}`, Buffer.from(toBinary(ViewerStateSchema, create(ViewerStateSchema, { postId: posts[9]!, liked: true })))).exec()],
      ["the author's profile", () => other.set(`${P}rm:author:${A}`, profile(A, "Ann B."))],
      ["the referred post", () => other.set(`${P}rm:post:${referred}`, post(referred, B, "the referred one, edited"))],
      ["a relationship pair (a mute)", () => other.set(`${P}rm:rel:${V}:${B}`, rel(B, { following: true, muting: true }))],
      ["a post pushed to the timeline", async () => {
        const id = ids.next();
        await other.set(`${P}rm:post:${id}`, post(id, A, "new"));
        await other.set(`${P}rm:counts:${id}`, counts(id, 0n));
        await other.set(`${P}rm:whole:${id}`, "1");
        await other.zadd(`${P}ht:${V}`, idTimeMs(id), String(id));
      }],
      ["a post taken off the timeline", () => other.zrem(`${P}ht:${V}`, String(posts[9]))],
      ["a post deleted (tombstone)", () => other.set(`${P}rm:post:${posts[7]}`, "\x01")],
      ["the relationship from the viewer's set (the mute undone)", () => other.multi().del(`${P}rm:rel:${V}:${B}`).hset(`${P}rm:rels:${V}`, "*", "1", String(B), rel(B, { following: true })).exec()],
      ["the settings (counters off)", () => other.set(`${P}rm:page-path`, "604800000 604800 0 ")],
    ];
    for (const [what, change] of changes) {
      await change();
      const [now, truth] = await both();
      expect({ what, now }).toEqual({ what, now: truth });
      expect({ what, changed: now !== page }).toEqual({ what, changed: true });
      page = await untilTracked();
    }

    // A key that expires: the counters of a post on the page (counters on again), gone by
    // the time it is read.
    await other.set(`${P}rm:page-path`, "604800000 604800 1 ");
    page = await untilTracked();
    await other.pexpire(`${P}rm:counts:${posts[6]}`, 20);
    while ((await other.exists(`${P}rm:counts:${posts[6]}`)) === 1) await Bun.sleep(5);
    const [expired, truth] = await both();
    expect(expired).toBe(truth);
    expect(expired).toBe("miss:counts");
    await other.set(`${P}rm:counts:${posts[6]}`, counts(posts[6]!, 6n));
    page = await untilTracked();

    // The page path's own connection writes: a relationship changed through the edge
    // drops the pairs and sets (Redis tracks this connection's own writes too).
    await tracked.relationshipChanged(V, B);
    const [mine, fresh] = await both();
    expect(mine).toBe(fresh);
    expect(mine).not.toBe(page);
    expect(tracked.tracker!.invalidated).toBeGreaterThanOrEqual(changes.length + 2);
    // With watched keys, the reads after the first left out keys Redis tracked already.
    if (watchedKeys) expect(tracked.tracker!.watchedSize).toBeGreaterThan(0);
    else expect(tracked.tracker!.watchedSize).toBe(0);
  });

  test(`a connection that closes forgets every tracked page, and tracks again once it is back (watched keys ${watchedKeys ? "on" : "off"})`, async () => {
    await other.set(`${P}rm:rel:${V}:${B}`, rel(B, { following: true }));
    await other.set(`${P}rm:rel:${V}:${A}`, rel(A, { following: true }));
    await untilTracked();
    expect(tracked.tracker!.keysWatched).toBeGreaterThan(0);
    // Redis drops a closed connection's tracking: nothing kept may count as unchanged.
    const generation = tracked.tracker!.generation;
    conn.disconnect(true);
    for (let i = 0; i < 400 && !(tracked.tracker!.ready && tracked.tracker!.generation > generation); i++) await Bun.sleep(5);
    expect(tracked.tracker!.ready).toBe(true);
    expect(tracked.reuse!.peek(key)?.tracked?.valid ?? false).toBe(false);
    expect(tracked.tracker!.keysWatched).toBe(0);
    expect(tracked.tracker!.watchedSize).toBe(0);
    // A change made while it was away shows, and the page is tracked again.
    await other.set(`${P}rm:author:${B}`, profile(B, "Bo C."));
    const [now, truth] = await both();
    expect(now).toBe(truth);
    await untilTracked();
  });
}
