/**
 * The edge's search page path (search-page-path.ts) against real Redis, without a mesh:
 * signed-in viewers and other methods are never served; a page in its last seconds is
 * served and recomputed by one background flight (early refresh); with copies the answer
 * is the same bytes; the counters still end it at once; a page no longer current is
 * recomputed by one flight while the kept page is served, never once it was last known
 * current longer than the stale window ago (a clock of the test's own, no sleeps).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { Registry } from "prom-client";
import { SearchPostsRequestSchema, SearchService } from "#gen/oasis/search/v1/search_service_pb.ts";
import { createLogger } from "#kit/logger.ts";
import { createRedis, deleteKeysWithPrefix, type Redis } from "#kit/redis.ts";
import { testNamespace } from "#kit/testing/namespace.ts";
import { pageRedisKey, pageValue, postsPageKeyOf, queryGenKey } from "../services/search/page-path.ts";
import type { RoutedMethod } from "./registry.ts";
import { createSearchPagePath } from "./search-page-path.ts";

const redisUrl = process.env.OASIS_REDIS_URL ?? "redis://127.0.0.1:6379";
const ns = testNamespace();
const prefix = `${ns}:`;
const log = createLogger("edge-test", "silent");
let redis: Redis;
const posts = { path: `/${SearchService.typeName}/${SearchService.method.searchPosts.name}` } as RoutedMethod;
const users = { path: `/${SearchService.typeName}/${SearchService.method.searchUsers.name}` } as RoutedMethod;

beforeAll(() => {
  redis = createRedis({ url: redisUrl, keyPrefix: "", log });
});
afterAll(async () => {
  redis.disconnect();
  await deleteKeysWithPrefix(redisUrl, prefix);
});

const counts = async (registry: Registry) => {
  const text = await registry.metrics();
  const of = (r: string) => Number(new RegExp(`^edge_search_page_path_total\\{result="${r}"\\} (\\d+)`, "m").exec(text)?.[1] ?? 0);
  return { hit: of("hit"), held: of("held"), stale: of("stale"), shared: of("shared"), miss: of("miss"), refresh: of("refresh") };
};
const none = { hit: 0, held: 0, stale: 0, shared: 0, miss: 0, refresh: 0 };

/** A stand-in for the call to search: counts calls; answers `bytes` at once when `open`, else once `release()` is called (before or after the call). */
function search(bytes: Uint8Array, open = true) {
  let release = () => {};
  const answer = open ? Promise.resolve(bytes) : new Promise<Uint8Array>((resolve) => (release = () => resolve(bytes)));
  const s = {
    calls: 0,
    release: () => release(),
    ask: () => {
      s.calls++;
      return answer;
    },
  };
  return s;
}
const never = () => Promise.reject(new Error("search must not be asked"));

for (const copies of ["0", "2000"]) {
  test(`copies ${copies}: a page in its last seconds is served and recomputed by one background flight; signed-in viewers never; a bump ends it`, async () => {
    const registry = new Registry();
    const path = createSearchPagePath({ url: redisUrl, prefix, log, registry, env: { OASIS_EDGE_SEARCH_EARLY_REFRESH: "1", OASIS_EDGE_SEARCH_PAGE_COPIES: copies, OASIS_EDGE_SEARCH_STALE_MS: "0" } });
    try {
      const req = create(SearchPostsRequestSchema, { query: `heron${copies}` });
      const k = postsPageKeyOf(req)!;
      const bytes = new Uint8Array([8, 1, 10, 2]);
      const s = search(new Uint8Array([8, 2]));
      expect(await path.serve(posts, req, null, never)).toBeUndefined(); // nothing stored
      // Stored with 5 s to live: under the 10 s before expiry, so the first read starts a flight.
      await redis.set(prefix + pageRedisKey(k.key), pageValue("0:0:0", k.key, bytes), "PX", 5_000);
      for (let i = 0; i < 4; i++) expect([...((await path.serve(posts, req, null, s.ask)) ?? [])]).toEqual([...bytes]);
      expect(s.calls).toBe(1);
      expect(await path.serve(posts, req, 7n, never)).toBeUndefined(); // a signed-in viewer
      expect(await path.serve(users, req, null, never)).toBeUndefined(); // another method
      expect(await counts(registry)).toEqual({ ...none, hit: 4, miss: 1, refresh: 1 });
      await redis.incr(prefix + queryGenKey(k.tag)); // a new post that may match it
      expect(await path.serve(posts, req, null, never)).toBeUndefined();
    } finally {
      path.close();
    }
  });
}

test("early refresh off: a page is served until it expires, search never asked", async () => {
  const registry = new Registry();
  const path = createSearchPagePath({ url: redisUrl, prefix, log, registry, env: { OASIS_EDGE_SEARCH_EARLY_REFRESH: "0" } });
  try {
    const req = create(SearchPostsRequestSchema, { query: "egret" });
    const k = postsPageKeyOf(req)!;
    await redis.set(prefix + pageRedisKey(k.key), pageValue("0:0:0", k.key, new Uint8Array([1])), "PX", 5_000);
    expect([...((await path.serve(posts, req, null, never)) ?? [])]).toEqual([1]);
    expect(await counts(registry)).toEqual({ ...none, hit: 1 });
  } finally {
    path.close();
  }
});

test("stale while one recomputes: one flight per page, the kept page only while it was known current less than the window ago, waiters share a young flight", async () => {
  let clock = 1_000;
  const registry = new Registry();
  const path = createSearchPagePath({ url: redisUrl, prefix, log, registry, env: { OASIS_EDGE_SEARCH_STALE_MS: "500", OASIS_EDGE_SEARCH_PAGE_HOLD_MS: "0" }, now: () => clock });
  try {
    const req = create(SearchPostsRequestSchema, { query: "avocet" });
    const k = postsPageKeyOf(req)!;
    const old = new Uint8Array([8, 1]);
    await redis.set(prefix + pageRedisKey(k.key), pageValue("0:0:0", k.key, old), "PX", 30_000);
    expect([...((await path.serve(posts, req, null, never)) ?? [])]).toEqual([...old]); // known current at 1,000
    await redis.incr(prefix + queryGenKey(k.tag)); // a post that may match it (or a delete)
    const fresh = new Uint8Array([8, 2]);
    const s = search(fresh, false);
    clock = 1_100;
    expect([...((await path.serve(posts, req, null, s.ask)) ?? [])]).toEqual([...old]); // stale; a flight started
    clock = 1_499;
    expect([...((await path.serve(posts, req, null, s.ask)) ?? [])]).toEqual([...old]);
    expect(s.calls).toBe(1);
    // 500 ms after it was last known current the kept page is never served, and the
    // flight (started at 1,100) is too old to wait for: this request asks search itself.
    clock = 1_600;
    expect(await path.serve(posts, req, null, s.ask)).toBeUndefined();
    expect(s.calls).toBe(1);
    s.release(); // the flight's answer: kept, known current at 1,100
    await s.ask(); // (the stand-in's answer, after the flight's own handler)
    s.calls--;
    clock = 1_650;
    const s2 = search(new Uint8Array([8, 3]), false);
    // Kept since 1,100 (550 ms): not served; one new flight, waited for by its starter, and its answer for a second request.
    s2.release();
    const both = Promise.all([path.serve(posts, req, null, s2.ask), path.serve(posts, req, null, s2.ask)]);
    expect((await both).map((b) => [...(b ?? [])])).toEqual([[8, 3], [8, 3]]);
    expect(s2.calls).toBe(1);
    // And that answer is now kept (known current at 1,650) and served while the page stays ended.
    clock = 2_000;
    const s3 = search(new Uint8Array([8, 4]), false);
    expect([...((await path.serve(posts, req, null, s3.ask)) ?? [])]).toEqual([8, 3]);
    // (The second of the pair waited for the flight, or came after it landed and got its kept answer.)
    const c = await counts(registry);
    expect({ ...c, stale: c.stale + c.shared, shared: 0 }).toEqual({ ...none, hit: 1, stale: 4, miss: 2 });
    s3.release();
    // A request waiting for a flight waits until its own deadline at most (then asks search itself).
    await redis.del(prefix + pageRedisKey(k.key));
    clock = 3_000; // the kept page (known current at 1,650) too old
    const slow = search(new Uint8Array([8, 5]), false);
    expect(await path.serve(posts, req, null, slow.ask, Date.now() + 50)).toBeUndefined();
    expect(slow.calls).toBe(1);
    slow.release();
  } finally {
    path.close();
  }
});

test("hold: a page known current less than the hold ago is served without reading Redis", async () => {
  let clock = 1_000;
  const registry = new Registry();
  const path = createSearchPagePath({ url: redisUrl, prefix, log, registry, env: { OASIS_EDGE_SEARCH_STALE_MS: "0", OASIS_EDGE_SEARCH_PAGE_HOLD_MS: "300" }, now: () => clock });
  try {
    const req = create(SearchPostsRequestSchema, { query: "plover" });
    const k = postsPageKeyOf(req)!;
    await redis.set(prefix + pageRedisKey(k.key), pageValue("0:0:0", k.key, new Uint8Array([5])), "PX", 30_000);
    // No stale window, so no hold either (the hold is bounded by the window).
    expect([...((await path.serve(posts, req, null, never)) ?? [])]).toEqual([5]);
    await redis.incr(prefix + queryGenKey(k.tag));
    expect(await path.serve(posts, req, null, never)).toBeUndefined();
    expect(await counts(registry)).toEqual({ ...none, hit: 1, miss: 1 });
  } finally {
    path.close();
  }
  clock = 1_000;
  const registry2 = new Registry();
  const held = createSearchPagePath({ url: redisUrl, prefix, log, registry: registry2, env: { OASIS_EDGE_SEARCH_STALE_MS: "500", OASIS_EDGE_SEARCH_PAGE_HOLD_MS: "300" }, now: () => clock });
  try {
    const req = create(SearchPostsRequestSchema, { query: "dunlin" });
    const k = postsPageKeyOf(req)!;
    await redis.set(prefix + pageRedisKey(k.key), pageValue("0:0:0", k.key, new Uint8Array([6])), "PX", 30_000);
    expect([...((await held.serve(posts, req, null, never)) ?? [])]).toEqual([6]);
    await redis.incr(prefix + queryGenKey(k.tag));
    clock = 1_299;
    expect([...((await held.serve(posts, req, null, never)) ?? [])]).toEqual([6]); // held: Redis not read
    clock = 1_600; // past the hold and the window: Redis read, not current, search asked
    const s = search(new Uint8Array([7]));
    expect([...((await held.serve(posts, req, null, s.ask)) ?? [])]).toEqual([7]);
    expect(await counts(registry2)).toEqual({ ...none, hit: 1, held: 1, miss: 1 });
  } finally {
    held.close();
  }
});
