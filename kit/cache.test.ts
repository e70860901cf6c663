/**
 * kit/cache.ts against a real Redis: `peek` answers from the cache only (no load, no
 * fill), and an invalidation queued on a kit/redis.ts Pipeline fences a reader that
 * loaded before it, as `invalidate` does; `refresh` stores what it loaded unless a writer
 * bumped the key meanwhile, and with `onlyCached` fences every key and reloads only the
 * cached ones, in place.
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

const text = (m: Map<string, Buffer>) => Object.fromEntries([...m].map(([k, v]) => [k, v.toString()]));

test("refresh loads every key and stores it, unless a writer bumped the key while it loaded", async () => {
  const cache = new VersionedCache(redis, "ref", 60);
  const got = await cache.refresh(["a", "b"], async (keys) => {
    expect(keys).toEqual(["a", "b"]);
    // A writer changes "b" while this load runs: its old value must not be stored.
    await cache.invalidate(["b"]);
    return new Map([["a", Buffer.from("a1")], ["b", Buffer.from("b-old")]]);
  });
  expect(text(got)).toEqual({ a: "a1", b: "b-old" });
  expect(await redis.get("ref:a")).toBe("a1");
  expect(await redis.get("ref:b")).toBeNull();
});

test("refresh onlyCached fences every key and reloads only the cached ones, in place", async () => {
  const cache = new VersionedCache(redis, "ref2", 60);
  await cache.put(new Map([["x", Buffer.from("x1")]]));
  const asked: string[][] = [];
  const load = async (keys: string[]) => {
    asked.push(keys);
    return new Map(keys.map((k) => [k, Buffer.from(`${k}2`)]));
  };
  await cache.refresh(["x", "y"], load, { onlyCached: true });
  expect(asked).toEqual([["x"]]);
  expect(await redis.get("ref2:x")).toBe("x2");
  expect(await redis.get("ref2:y")).toBeNull();
  // "y" was fenced anyway: a reader that loaded it before cannot store it after.
  const versionBefore = Number(await redis.get("ref2:v:y"));
  await cache.refresh(["y"], load, { onlyCached: true });
  expect(Number(await redis.get("ref2:v:y"))).toBe(versionBefore + 1);
});
