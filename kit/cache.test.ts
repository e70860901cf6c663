/**
 * kit/cache.ts against a real Redis: `peek` answers from the cache only (no load, no
 * fill), and an invalidation queued on a kit/redis.ts Pipeline fences a reader that
 * loaded before it, as `invalidate` does.
 */
import { afterAll, expect, test } from "bun:test";
import { VersionedCache } from "./cache.ts";
import { createLogger } from "./logger.ts";
import { createRedis, deleteKeysWithPrefix, Pipeline } from "./redis.ts";
import { testNamespace } from "./testing/namespace.ts";

const url = process.env.OASIS_REDIS_URL ?? "redis://127.0.0.1:6379";
const prefix = `${testNamespace()}:cachetest:`;
const redis = createRedis({ url, keyPrefix: prefix, log: createLogger("cache-test", "silent") });
afterAll(async () => {
  redis.disconnect();
  await deleteKeysWithPrefix(url, prefix);
});

test("peek returns the cached values only, and neither loads nor fills the rest", async () => {
  const cache = new VersionedCache(redis, "peek", 60);
  await cache.getMany(["a"], async () => new Map([["a", Buffer.from("A")]]));
  const seen = await cache.peek(["a", "b"]);
  expect([...seen].map(([k, v]) => [k, v.toString()])).toEqual([["a", "A"]]);
  expect(await redis.exists("peek:b")).toBe(0);
  expect((await cache.peek([])).size).toBe(0);
});

test("an invalidation queued on a Pipeline goes out with the other commands and fences a reader that loaded before it", async () => {
  const cache = new VersionedCache(redis, "inv", 60);
  const pipe = new Pipeline(redis);
  const got = await cache.getMany(["k"], async () => {
    // A writer commits and invalidates while this reader is loading.
    cache.invalidateIn(pipe, ["k"]);
    pipe.batch.set("other", "1");
    expect(pipe.length).toBe(2);
    expect(await pipe.exec()).toEqual([null, null]);
    return new Map([["k", Buffer.from("old")]]);
  });
  expect(got.get("k")!.toString()).toBe("old");
  expect((await cache.peek(["k"])).size).toBe(0);
  expect(await redis.get("other")).toBe("1");
  expect(await new Pipeline(redis).exec()).toEqual([]);
});
