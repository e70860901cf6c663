/**
 * The search page path's store and read (page-path.ts) against real Redis: a page is
 * served only at the counters it was stored at (the global ones and its query's own)
 * and for its own key; a reader that names the stamp of the copy it holds gets the
 * stamp alone; the remaining TTL comes with it.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { SearchPostsRequestSchema } from "#gen/oasis/search/v1/search_service_pb.ts";
import { createLogger } from "#kit/logger.ts";
import { createRedis, deleteKeysWithPrefix, type Redis } from "#kit/redis.ts";
import { testNamespace } from "#kit/testing/namespace.ts";
import { pageRedisKey, pageTtlSeconds, pageValue, postsPageKeyOf, SearchPageReader } from "./page-path.ts";
import { queryGenKey, viewsKey, writesKey } from "./request-cache.ts";

const redisUrl = process.env.OASIS_REDIS_URL ?? "redis://127.0.0.1:6379";
const ns = testNamespace();
const prefix = `${ns}:`;
let redis: Redis;

beforeAll(() => {
  redis = createRedis({ url: redisUrl, keyPrefix: "", log: createLogger("search-test", "silent") });
});
afterAll(async () => {
  redis.disconnect();
  await deleteKeysWithPrefix(redisUrl, prefix);
});

test("a stored page is served at its counters and key only; a reader holding its stamp gets the stamp alone", async () => {
  const reader = new SearchPageReader(redis, prefix);
  const moon = create(SearchPostsRequestSchema, { query: "moon" });
  const sun = create(SearchPostsRequestSchema, { query: "sun" });
  const k = postsPageKeyOf(moon)!;
  expect(reader.keyOf(moon)).toEqual(k);
  const bytes = new Uint8Array([1, 2, 3, 10, 4]); // a newline inside the answer is no separator
  const store = () => redis.set(prefix + pageRedisKey(k.key), pageValue("0:0:0", k.key, bytes), "EX", pageTtlSeconds);
  expect(await reader.read(moon)).toBeUndefined();
  await store();
  const first = (await reader.read(moon))!;
  expect([...first.bytes!]).toEqual([...bytes]);
  expect(first.ttlMs).toBeGreaterThan(0);
  expect(first.ttlMs).toBeLessThanOrEqual(pageTtlSeconds * 1000);
  const named = (await reader.read(moon, () => first.stamp))!;
  expect([named.bytes, named.stamp]).toEqual([undefined, first.stamp]);
  expect((await reader.read(moon, () => "another-stamp"))!.bytes).toBeDefined();
  expect(await reader.read(sun)).toBeUndefined();
  // Stored again (recomputed): a new stamp, so a holder of the old one gets the bytes.
  await store();
  const again = (await reader.read(moon, () => first.stamp))!;
  expect(again.stamp).not.toBe(first.stamp);
  expect([...again.bytes!]).toEqual([...bytes]);
  // Any of the three counters moving ends it.
  for (const counter of [queryGenKey(k.tag), viewsKey, writesKey]) {
    await redis.incr(prefix + counter);
    expect(await reader.read(moon, () => again.stamp)).toBeUndefined();
    await redis.decr(prefix + counter);
    expect(await reader.read(moon, () => again.stamp)).toBeDefined();
  }
});
