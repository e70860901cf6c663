/**
 * Cache-aside in Redis without the stale write-back race.
 *
 * Plain cache-aside (read DB on miss, SET; writers DEL after commit) can cache stale
 * data forever-until-TTL: a reader loads the old row, the writer commits and DELs, then
 * the reader SETs the old row. Here each key has a version counter: writers bump it
 * (and drop the value) after commit; a reader notes the version before reading the
 * database and its SET only happens if the version is still the same (one Lua call).
 * Values are bytes (serialized Protobuf) or strings.
 */
import type { Pipeline, Redis } from "./redis.ts";

// KEYS[1] value key, KEYS[2] version key; ARGV[1] version seen before loading ("" = none),
// ARGV[2] value, ARGV[3] TTL seconds. Sets the value only if no writer bumped the version.
const setIfUnchanged = `
local v = redis.call('GET', KEYS[2]) or ''
if v == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', tonumber(ARGV[3]))
  return 1
end
return 0
`;

// KEYS: pairs of (value key, version key). Bumps each version (kept for a day, far
// longer than any read takes) and drops the value.
const bump = `
for i = 1, #KEYS, 2 do
  redis.call('DEL', KEYS[i])
  redis.call('INCR', KEYS[i + 1])
  redis.call('EXPIRE', KEYS[i + 1], 86400)
end
return 1
`;

// KEYS: pairs of (value key, version key); ARGV[1] TTL seconds, then one value per pair.
// Sets each value and bumps its version, so a reader that loaded an older value before
// this write cannot store it afterwards (a write-through from an event).
const put = `
local ttl = tonumber(ARGV[1])
for i = 1, #KEYS, 2 do
  redis.call('SET', KEYS[i], ARGV[(i + 1) / 2 + 1], 'EX', ttl)
  redis.call('INCR', KEYS[i + 1])
  redis.call('EXPIRE', KEYS[i + 1], 86400)
end
return 1
`;

// KEYS: pairs of (value key, version key). Like `bump`, and returns for each pair the new
// version when the value was cached, else "" (the key is fenced but not reloaded).
const fence = `
local out = {}
for i = 1, #KEYS, 2 do
  local had = redis.call('DEL', KEYS[i])
  local v = redis.call('INCR', KEYS[i + 1])
  redis.call('EXPIRE', KEYS[i + 1], 86400)
  if had == 1 then out[#out + 1] = tostring(v) else out[#out + 1] = '' end
end
return out
`;

type CacheRedis = Redis & {
  oasisCacheFence(numKeys: number, ...keys: string[]): Promise<string[]>;
  oasisCachePut(numKeys: number, ...args: Array<string | Buffer | number>): Promise<number>;
  oasisCacheSet(valueKey: string, versionKey: string, seen: string, value: Buffer | string, ttl: number): Promise<number>;
  oasisCacheBump(numKeys: number, ...keys: string[]): Promise<number>;
};

export class VersionedCache {
  private readonly redis: CacheRedis;

  /** `name` prefixes the keys (`<name>:<key>`, `<name>:v:<key>`); `ttlSeconds` bounds memory. */
  constructor(
    redis: Redis,
    private readonly name: string,
    private readonly ttlSeconds: number,
  ) {
    if (!("oasisCacheSet" in redis)) {
      redis.defineCommand("oasisCacheSet", { numberOfKeys: 2, lua: setIfUnchanged });
      redis.defineCommand("oasisCacheBump", { lua: bump });
    }
    if (!("oasisCachePut" in redis)) redis.defineCommand("oasisCachePut", { lua: put });
    if (!("oasisCacheFence" in redis)) redis.defineCommand("oasisCacheFence", { lua: fence });
    this.redis = redis as CacheRedis;
  }

  private valueKey(k: string): string {
    return `${this.name}:${k}`;
  }

  private versionKey(k: string): string {
    return `${this.name}:v:${k}`;
  }

  /**
   * Values for `keys`: cached ones from Redis, the rest from `load` (which returns only
   * what exists), cached for next time unless a writer intervened. Redis errors fall
   * back to `load` for everything.
   */
  async getMany(keys: readonly string[], load: (missing: string[]) => Promise<Map<string, Buffer>>): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    if (keys.length === 0) return out;
    let cached: Array<Buffer | null>;
    try {
      cached = await this.redis.mgetBuffer(...keys.map((k) => this.valueKey(k)));
    } catch {
      return load([...keys]);
    }
    const missing: string[] = [];
    keys.forEach((k, i) => {
      const hit = cached[i];
      if (hit) out.set(k, hit);
      else missing.push(k);
    });
    if (missing.length === 0) return out;
    // Versions only for the misses (a hit needs none), read before loading: writers bump
    // after their commit, so whatever `load` reads is at least as new as the version seen.
    const seen = new Map<string, string>();
    try {
      const versions = await this.redis.mget(...missing.map((k) => this.versionKey(k)));
      missing.forEach((k, i) => seen.set(k, versions[i] ?? ""));
    } catch {
      const loaded = await load(missing);
      for (const [k, v] of loaded) out.set(k, v);
      return out;
    }
    const loaded = await load(missing);
    const pipe = this.redis.pipeline();
    for (const [k, v] of loaded) {
      out.set(k, v);
      (pipe as unknown as CacheRedis).oasisCacheSet(this.valueKey(k), this.versionKey(k), seen.get(k) ?? "", v, this.ttlSeconds);
    }
    await pipe.exec().catch(() => {});
    return out;
  }

  /**
   * The cached values among `keys`, without loading or filling the missing ones (absent
   * from the result): for a caller that has a cheaper way than `getMany`'s `load` to
   * answer a small question when the cache is cold. A Redis error reads as all missing.
   */
  async peek(keys: readonly string[]): Promise<Map<string, Buffer>> {
    const out = new Map<string, Buffer>();
    if (keys.length === 0) return out;
    const cached = await this.redis.mgetBuffer(...keys.map((k) => this.valueKey(k))).catch(() => [] as Array<Buffer | null>);
    keys.forEach((k, i) => cached[i] && out.set(k, cached[i]!));
    return out;
  }

  /**
   * Stores new values (e.g. from an event that carries the whole new state) and fences
   * out readers that loaded older ones before, like `invalidate` but leaving a hit.
   */
  async put(entries: ReadonlyMap<string, Buffer | string>): Promise<void> {
    if (entries.size === 0) return;
    const keys = [...entries.keys()];
    await this.redis.oasisCachePut(keys.length * 2, ...keys.flatMap((k) => [this.valueKey(k), this.versionKey(k)]), this.ttlSeconds, ...entries.values());
  }

  /**
   * As `invalidate`, queued on `pipeline` (kit/redis.ts Pipeline) to go out with the
   * caller's other commands in one round trip; its error, if any, is the caller's to
   * ignore, as `invalidate` ignores it.
   */
  invalidateIn(pipeline: Pipeline, keys: readonly string[]): void {
    if (keys.length === 0) return;
    (pipeline.batch as unknown as CacheRedis).oasisCacheBump(keys.length * 2, ...keys.flatMap((k) => [this.valueKey(k), this.versionKey(k)]));
  }

  /**
   * Values for `keys` loaded again from the source (`load`, which returns only what
   * exists), stored unless a writer bumped a key's version while they were loading; for
   * a reader that must see the source's state now and keeps the cache fresh in passing.
   * With `onlyCached` (a writer: an event said the state changed but does not carry it),
   * every key is first fenced (as `invalidate`: dropped, readers that loaded it before
   * cannot store it), and only the keys that were cached are loaded again and stored:
   * the entry is refreshed in place, no key is added. Redis errors: the values loaded,
   * nothing stored.
   */
  async refresh(keys: readonly string[], load: (keys: string[]) => Promise<Map<string, Buffer>>, opts: { onlyCached?: boolean } = {}): Promise<Map<string, Buffer>> {
    if (keys.length === 0) return new Map();
    const seen = new Map<string, string>();
    try {
      if (opts.onlyCached) {
        const versions = await this.redis.oasisCacheFence(keys.length * 2, ...keys.flatMap((k) => [this.valueKey(k), this.versionKey(k)]));
        keys.forEach((k, i) => versions[i] && seen.set(k, versions[i]!));
      } else {
        const versions = await this.redis.mget(...keys.map((k) => this.versionKey(k)));
        keys.forEach((k, i) => seen.set(k, versions[i] ?? ""));
      }
    } catch {
      return opts.onlyCached ? new Map() : load([...keys]);
    }
    if (seen.size === 0) return new Map();
    const loaded = await load([...seen.keys()]);
    const pipe = this.redis.pipeline();
    for (const [k, v] of loaded) {
      if (seen.has(k)) (pipe as unknown as CacheRedis).oasisCacheSet(this.valueKey(k), this.versionKey(k), seen.get(k)!, v, this.ttlSeconds);
    }
    await pipe.exec().catch(() => {});
    return loaded;
  }

  /** Forgets `keys` and fences out readers that loaded them before; call after commit. */
  async invalidate(keys: readonly string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.redis.oasisCacheBump(keys.length * 2, ...keys.flatMap((k) => [this.valueKey(k), this.versionKey(k)])).catch(() => {});
  }
}
