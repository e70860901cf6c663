/**
 * The edge's search page path (search-page-path.ts) against real Redis, without a mesh:
 * signed-in viewers and other methods are never served; a page in its last seconds is
 * let through to search once per gap (early refresh) and served otherwise; with copies
 * the answer is the same bytes; the counters still end it at once.
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
  return { hit: of("hit"), miss: of("miss"), refresh: of("refresh") };
};

for (const copies of ["0", "2000"]) {
  test(`copies ${copies}: a page in its last seconds goes to search once, then is served; signed-in viewers never; a bump ends it`, async () => {
    const registry = new Registry();
    const path = createSearchPagePath({ url: redisUrl, prefix, log, registry, env: { OASIS_EDGE_SEARCH_EARLY_REFRESH: "1", OASIS_EDGE_SEARCH_PAGE_COPIES: copies } });
    try {
      const req = create(SearchPostsRequestSchema, { query: `heron${copies}` });
      const k = postsPageKeyOf(req)!;
      const bytes = new Uint8Array([8, 1, 10, 2]);
      expect(await path.serve(posts, req, null)).toBeUndefined(); // nothing stored
      // Stored with 5 s to live: under the 10 s before expiry, so the first reader refreshes it.
      await redis.set(prefix + pageRedisKey(k.key), pageValue("0:0:0", k.key, bytes), "PX", 5_000);
      expect(await path.serve(posts, req, null)).toBeUndefined();
      for (let i = 0; i < 3; i++) expect([...((await path.serve(posts, req, null)) ?? [])]).toEqual([...bytes]);
      expect(await path.serve(posts, req, 7n)).toBeUndefined(); // a signed-in viewer
      expect(await path.serve(users, req, null)).toBeUndefined(); // another method
      expect(await counts(registry)).toEqual({ hit: 3, miss: 1, refresh: 1 });
      await redis.incr(prefix + queryGenKey(k.tag)); // a new post that may match it
      expect(await path.serve(posts, req, null)).toBeUndefined();
    } finally {
      path.close();
    }
  });
}

test("early refresh off: a page is served until it expires", async () => {
  const registry = new Registry();
  const path = createSearchPagePath({ url: redisUrl, prefix, log, registry, env: { OASIS_EDGE_SEARCH_EARLY_REFRESH: "0" } });
  try {
    const req = create(SearchPostsRequestSchema, { query: "egret" });
    const k = postsPageKeyOf(req)!;
    await redis.set(prefix + pageRedisKey(k.key), pageValue("0:0:0", k.key, new Uint8Array([1])), "PX", 5_000);
    expect([...((await path.serve(posts, req, null)) ?? [])]).toEqual([1]);
    expect(await counts(registry)).toEqual({ hit: 1, miss: 0, refresh: 0 });
  } finally {
    path.close();
  }
});
