/**
 * Timelines in Redis. Per author `ut:<id>` and per reader `ht:<id>` are sorted sets of
 * post ids scored by the id's millisecond (ids are time-ordered, kit/ids.ts), so newest
 * first is ZRANGE ... REV. Because an empty sorted set does not exist in Redis, a
 * separate marker (`ub:<id>`, `hb:<id>`) says "this timeline is built"; pushes go only to
 * built timelines (a partial one would look complete), everything else is rebuilt from
 * the source on read. Markers expire (user timelines after a day, home timelines after
 * the active window), so memory follows activity.
 *
 * `active` scores each reader's last feed read (ms); fan-out skips readers not seen
 * within the window. `celebs` holds authors above the fan-out threshold.
 *
 * `delivered:home` and `delivered:user` count (post, timeline) pairs ever pushed (not
 * rebuilt): the fan-out volume, and the check that redelivered events add nothing twice.
 */
import type { Redis } from "#kit/redis.ts";
import { idTimeMs } from "#kit/ids.ts";

/**
 * Lua, the one push rule every timeline push shares (pushScript, pushToReaderLua and
 * followers.ts's first-trip script): `pushBuilt(timeline, marker, cap, first)` adds the
 * (score, member) pairs ARGV[first], ARGV[first + 1], ... to `timeline` when it is built
 * (`marker` exists; a partial timeline would look complete) and trims it to the newest
 * `cap`. Returns the new (timeline, member) pairs, 0 when not built; the caller adds them
 * to its delivery counter, so a push run again after a crash counts nothing twice.
 */
export const pushBuiltLua = `
local function pushBuilt(timeline, marker, cap, first)
  if redis.call('EXISTS', marker) == 0 then return 0 end
  local new = 0
  for j = first, #ARGV, 2 do
    new = new + redis.call('ZADD', timeline, ARGV[j], ARGV[j + 1])
  end
  redis.call('ZREMRANGEBYRANK', timeline, 0, -(cap + 1))
  return new
end
`;

// KEYS[1] a delivery counter, then pairs (timeline, marker). ARGV[1] cap, then pairs
// (score, member). Adds every member to every built timeline (pushBuiltLua) and adds to
// the counter how many (timeline, member) pairs were new: a batch run again after a
// crash adds nothing and counts nothing. Returns that count.
const pushScript = `${pushBuiltLua}
local cap = tonumber(ARGV[1])
local new = 0
for i = 2, #KEYS, 2 do
  new = new + pushBuilt(KEYS[i], KEYS[i + 1], cap, 2)
end
if new > 0 then redis.call('INCRBY', KEYS[1], new) end
return new
`;

/**
 * Lua, spliced into both fan-out push scripts (pushActiveScript here, followers.ts's cached
 * fan-out; it brings pushBuiltLua with it): `pushToReader(reader, timeline, marker, since,
 * cap, first)` is pushBuilt(timeline, marker, cap, first) when `reader`'s last read (its
 * score in KEYS[2], the `active` sorted set) is at or after `since` (ms). Returns the new
 * (timeline, member) pairs, 0 for a reader skipped or a timeline not built.
 */
export const pushToReaderLua = `${pushBuiltLua}
local function pushToReader(reader, timeline, marker, since, cap, first)
  local seen = redis.call('ZSCORE', KEYS[2], reader)
  if not seen or tonumber(seen) < since then return 0 end
  return pushBuilt(timeline, marker, cap, first)
end
`;

// The fan-out's push, with the active-reader check inside so a page of followers costs one
// round trip. KEYS[1] a delivery counter, KEYS[2] the `active` sorted set, then pairs
// (timeline, marker), one per reader. ARGV[1] cap, ARGV[2] the oldest last-read time that
// counts as active (ms), ARGV[3 .. 2 + readers] the readers' ids (members of `active`),
// then pairs (score, member). Like pushScript, for the readers whose last read is at or
// after ARGV[2] only (pushToReaderLua). Returns the new (timeline, member) pairs.
const pushActiveScript = `${pushToReaderLua}
local cap = tonumber(ARGV[1])
local since = tonumber(ARGV[2])
local readers = (#KEYS - 2) / 2
local first = 3 + readers
local new = 0
for r = 1, readers do
  new = new + pushToReader(ARGV[2 + r], KEYS[1 + 2 * r], KEYS[2 + 2 * r], since, cap, first)
end
if new > 0 then redis.call('INCRBY', KEYS[1], new) end
return new
`;

// A new follow's backfill in one round trip. KEYS[1] the followee's `ub` marker, KEYS[2]
// their `ut` timeline, KEYS[3] the home delivery counter, KEYS[4] the follower's `ht`,
// KEYS[5] its `hb` marker. ARGV[1] how many of the followee's newest posts, ARGV[2] the
// home cap, ARGV[3] "1": look at the follower's home first (no built home: nothing to
// do, 0, whether or not the followee's timeline is built). Returns -1 when the
// followee's timeline is not built (the caller builds it and pushes, as before), else
// what pushScript returns for those posts and that reader.
/** Lua of Timelines.backfill (KEYS: ub, ut, delivered:home, ht, hb; ARGV: count, home cap, built home only), also run by follow-created.ts. */
export const backfillScript = `
if ARGV[3] == '1' and redis.call('EXISTS', KEYS[5]) == 0 then return 0 end
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local n = tonumber(ARGV[1])
if n == 0 or redis.call('EXISTS', KEYS[5]) == 0 then return 0 end
local got = redis.call('ZRANGE', KEYS[2], '+inf', '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, n, 'WITHSCORES')
if #got == 0 then return 0 end
local new = 0
for i = 1, #got, 2 do
  new = new + redis.call('ZADD', KEYS[4], got[i + 1], got[i])
end
redis.call('ZREMRANGEBYRANK', KEYS[4], 0, -(tonumber(ARGV[2]) + 1))
if new > 0 then redis.call('INCRBY', KEYS[3], new) end
return new
`;

type TimelineRedis = Redis & {
  oasisBackfill(numKeys: number, ...args: Array<string | number>): Promise<number>;
  oasisPush(numKeys: number, ...args: Array<string | number>): Promise<number>;
  oasisPushActive(numKeys: number, ...args: Array<string | number>): Promise<number>;
};

export interface Page {
  readonly ids: bigint[];
  /** True when the timeline has more after these. */
  readonly more: boolean;
}

export class Timelines {
  private readonly redis: TimelineRedis;

  constructor(
    redis: Redis,
    private readonly homeCap: number,
    private readonly userCap: number,
    private readonly homeTtlSeconds: number,
  ) {
    if (!("oasisPush" in redis)) redis.defineCommand("oasisPush", { lua: pushScript });
    if (!("oasisPushActive" in redis)) redis.defineCommand("oasisPushActive", { lua: pushActiveScript });
    if (!("oasisBackfill" in redis)) redis.defineCommand("oasisBackfill", { lua: backfillScript });
    this.redis = redis as TimelineRedis;
  }

  private static scored(ids: readonly bigint[]): Array<string | number> {
    return ids.flatMap((id) => [idTimeMs(id), id.toString()]);
  }

  /** Adds posts to the built home timelines of `readers`; returns how many (post, reader) pairs were new. */
  async pushHome(readers: readonly bigint[], postIds: readonly bigint[]): Promise<number> {
    if (readers.length === 0 || postIds.length === 0) return 0;
    const keys = ["delivered:home", ...readers.flatMap((r) => [`ht:${r}`, `hb:${r}`])];
    return this.redis.oasisPush(keys.length, ...keys, this.homeCap, ...Timelines.scored(postIds));
  }

  /**
   * A new follow's backfill in one round trip: the `count` newest posts of `followee`'s
   * timeline pushed to `follower`'s built home timeline (as `page` then `pushHome`).
   * Returns how many were new, or -1 when the followee's timeline is not built (nothing
   * done: the caller builds it and pushes). `builtHomeOnly` (OASIS_FEED_BACKFILL_BUILT_HOME_FIRST):
   * a follower without a built home timeline gets 0 at once, so the followee's timeline
   * is not built for a push that would land nowhere (pushHome skips unbuilt homes).
   */
  async backfill(followee: bigint, follower: bigint, count: number, builtHomeOnly = false): Promise<number> {
    return this.redis.oasisBackfill(5, `ub:${followee}`, `ut:${followee}`, "delivered:home", `ht:${follower}`, `hb:${follower}`, count, this.homeCap, builtHomeOnly ? "1" : "0");
  }

  /**
   * pushHome to those of `readers` who read their feed at or after `sinceMs` (the
   * `active` set), checked in the same script: one round trip for a page of followers.
   */
  async pushActiveHome(readers: readonly bigint[], sinceMs: number, postIds: readonly bigint[]): Promise<number> {
    if (readers.length === 0 || postIds.length === 0) return 0;
    const keys = ["delivered:home", "active", ...readers.flatMap((r) => [`ht:${r}`, `hb:${r}`])];
    return this.redis.oasisPushActive(keys.length, ...keys, this.homeCap, sinceMs, ...readers.map(String), ...Timelines.scored(postIds));
  }

  /** Adds posts to an author's timeline if it is built. */
  async pushUser(author: bigint, postIds: readonly bigint[]): Promise<void> {
    await this.redis.oasisPush(3, "delivered:user", `ut:${author}`, `ub:${author}`, this.userCap, ...Timelines.scored(postIds));
  }

  /** Removes posts from the home timelines of `readers`. */
  async removeHome(readers: readonly bigint[], postIds: readonly bigint[]): Promise<void> {
    if (readers.length === 0 || postIds.length === 0) return;
    const pipe = this.redis.pipeline();
    const members = postIds.map(String);
    for (const r of readers) pipe.zrem(`ht:${r}`, ...members);
    await pipe.exec();
  }

  async removeUser(author: bigint, postIds: readonly bigint[]): Promise<void> {
    if (postIds.length) await this.redis.zrem(`ut:${author}`, ...postIds.map(String));
  }

  async isUserBuilt(author: bigint): Promise<boolean> {
    return (await this.redis.exists(`ub:${author}`)) === 1;
  }

  /** Replaces a home timeline with `ids` (a rebuild) and marks it built. */
  async writeHome(reader: bigint, ids: readonly bigint[]): Promise<void> {
    const pipe = this.redis.multi().del(`ht:${reader}`);
    const top = [...ids].sort((a, b) => (a > b ? -1 : a < b ? 1 : 0)).slice(0, this.homeCap);
    if (top.length) pipe.zadd(`ht:${reader}`, ...Timelines.scored(top));
    pipe.set(`hb:${reader}`, Date.now(), "EX", this.homeTtlSeconds);
    if (top.length) pipe.expire(`ht:${reader}`, this.homeTtlSeconds + 3600);
    await pipe.exec();
  }

  /** Adds `ids` to an author's timeline (a rebuild) and marks it built for a day. */
  async writeUser(author: bigint, ids: readonly bigint[]): Promise<void> {
    const pipe = this.redis.multi();
    if (ids.length) pipe.zadd(`ut:${author}`, ...Timelines.scored(ids.slice(0, this.userCap)));
    pipe.set(`ub:${author}`, Date.now(), "EX", 86_400);
    if (ids.length) pipe.expire(`ut:${author}`, 86_400 + 3600);
    await pipe.exec();
  }

  /** Newest-first ids of a timeline after the cursor id (exclusive). */
  async page(kind: "ht" | "ut", owner: bigint, before: bigint | undefined, count: number): Promise<Page> {
    const max = before === undefined ? "+inf" : String(idTimeMs(before));
    // Ids sharing the cursor's millisecond come back too and are skipped; ask for enough.
    const raw = await this.redis.zrange(`${kind}:${owner}`, max, "-inf", "BYSCORE", "REV", "LIMIT", "0", String(count + 64));
    const ids = raw.map(BigInt).filter((id) => before === undefined || id < before).sort((a, b) => (a > b ? -1 : a < b ? 1 : 0));
    return { ids: ids.slice(0, count), more: ids.length > count };
  }

  /** Every id of an author's timeline (for unfollow cleanup and rebuilds). */
  async allUser(author: bigint): Promise<bigint[]> {
    return (await this.redis.zrange(`ut:${author}`, 0, "-1")).map(BigInt);
  }

  /**
   * Everything a home feed read needs to know first, in one round trip: records the read
   * (returning the previous read time, 0 if never), whether the home timeline is built,
   * and the authors above the fan-out threshold. Extends a built timeline's life by
   * another window in the same trip (a rebuild that follows resets it anyway).
   */
  async openHome(reader: bigint): Promise<{ lastSeenMs: number; built: boolean; celebs: bigint[] }> {
    const r = String(reader);
    const res = (await this.redis
      .pipeline()
      .zscore("active", r)
      .zadd("active", Date.now(), r)
      .exists(`hb:${r}`)
      .smembers("celebs")
      .expire(`hb:${r}`, this.homeTtlSeconds)
      .expire(`ht:${r}`, this.homeTtlSeconds + 3600)
      .exec()) as Array<[Error | null, unknown]>;
    const failed = res.find(([err]) => err);
    if (failed) throw failed[0];
    const prev = res[0]![1] as string | null;
    return { lastSeenMs: prev ? Number(prev) : 0, built: res[2]![1] === 1, celebs: (res[3]![1] as string[]).map(BigInt) };
  }

  async addCeleb(author: bigint): Promise<void> {
    await this.redis.sadd("celebs", String(author));
  }

  /** Whether an author is on the read-time merge list. */
  async isCeleb(author: bigint): Promise<boolean> {
    return (await this.redis.sismember("celebs", String(author))) === 1;
  }

  /** Takes an author off the read-time merge list; true if it was on it. */
  async removeCeleb(author: bigint): Promise<boolean> {
    return (await this.redis.srem("celebs", String(author))) === 1;
  }
}
