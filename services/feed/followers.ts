/**
 * Follower ids per author in the feed's own Redis, so a fan-out pushes a post without
 * asking graph who follows its author (design note 36). Graph stays the source: a set is
 * built from graph's ListFollowerIds by the first fan-out that finds it missing (the
 * pages that fan-out reads anyway) and kept by graph's follow_created / follow_removed
 * events (unfollow and block alike), which the `feed-followers` handlers apply in
 * stream order (inside `feed-graph`'s batches by default, graph-events.ts).
 *
 * Keys (under the feed's prefix), for author A:
 * - `fo:A`    sorted set of A's follower ids (all scores 0, so ranks are a stable order
 *             for paging in batches of `fanoutBatch`); absent when A has no followers.
 * - `fo:b:A`  the marker "fo:A is built", expiring after `ttlSeconds` (OASIS_FEED_FOLLOWERS_TTL,
 *             default an hour): a set is rebuilt from graph at least that often, which
 *             bounds how long a missed event can leave it wrong. `fo:A` lives an hour longer.
 * - `fo:v:A`  a version every follow event of A bumps, built or not. A rebuild notes it
 *             before asking graph and stores only if it is unchanged (one Lua call), so a
 *             follow or unfollow handled while graph answered cannot be lost under an
 *             older list (kit/cache.ts's fence, for a set).
 *
 * Why events in stream order keep a built set right: an event handled before the rebuild
 * read graph is already in what graph answered (events are published after commit); one
 * handled during the rebuild fences it (nothing stored); the rest are applied in order
 * afterwards, each as "the pair now is / is not a follow", so every pair ends at its last
 * event's state, which is graph's. The consumer starts at new events only: a set is never
 * built before the consumer exists.
 *
 * Who may see a post is not decided here: a home timeline holds ids, and every read (the
 * feed's and the edge's page path) applies blocks, mutes, private accounts and
 * followers-only with the viewer's relationships at read time, as before.
 */
import { Counter, type Registry } from "prom-client";
import type { Redis } from "#kit/redis.ts";
import { idTimeMs } from "#kit/ids.ts";
import { pushToReaderLua } from "./timelines.ts";
import { seedPostLua, type SeedParts } from "./read-model.ts";

/**
 * Lua (needs pushToReaderLua): `pushFollowerBatch(first)`, the cached fan-out, one batch
 * of followers. KEYS[1] `delivered:home`, KEYS[2] `active`, KEYS[3] fo:A, KEYS[4] fo:b:A,
 * KEYS[5] fo:v:A. ARGV[1] the feed's key prefix (home timeline keys are built here from
 * follower ids), ARGV[2] cap, ARGV[3] the oldest last-read time that counts as active
 * (ms), ARGV[4] first rank, ARGV[5] batch size, ARGV[6] the fan-out threshold, and from
 * ARGV[first] on pairs (score, post id). Returns {-1, version} when the set is not built,
 * {-2, followers} above the threshold (nothing pushed), else {new (timeline, post) pairs,
 * followers}: pushHome's rules (built, active timelines only; trimmed to the cap,
 * timelines.ts pushToReaderLua; the delivery counter counts new pairs only).
 */
const followerBatchLua = `
local function pushFollowerBatch(first)
  if redis.call('EXISTS', KEYS[4]) == 0 then return {-1, redis.call('GET', KEYS[5]) or ''} end
  local total = redis.call('ZCARD', KEYS[3])
  if total > tonumber(ARGV[6]) then return {-2, total} end
  local prefix = ARGV[1]
  local cap = tonumber(ARGV[2])
  local since = tonumber(ARGV[3])
  local from = tonumber(ARGV[4])
  local readers = redis.call('ZRANGE', KEYS[3], from, from + tonumber(ARGV[5]) - 1)
  local new = 0
  for _, r in ipairs(readers) do
    new = new + pushToReader(r, prefix .. 'ht:' .. r, prefix .. 'hb:' .. r, since, cap, first)
  end
  if new > 0 then redis.call('INCRBY', KEYS[1], new) end
  return {new, total}
end
`;

// One batch (pushFollowerBatch), the pairs from ARGV[7].
const pushScript = `${pushToReaderLua}${followerBatchLua}
return pushFollowerBatch(7)
`;

// The fan-out's first round trip (OASIS_FEED_ONE_TRIP_FANOUT): what were three in a row.
// KEYS[1..5] and ARGV[1..6] as pushFollowerBatch's (first rank 0); KEYS[6] `celebs`,
// KEYS[7..11] the read model's seed keys (read-model.ts seedPostLua), KEYS[12]
// `delivered:user`, KEYS[13] ut:A, KEYS[14] ub:A; ARGV[7..10] the seed's arguments,
// ARGV[11] the user timeline cap, ARGV[12] the author's id, ARGV[13], ARGV[14] the post's
// (score, id). In order: the seed (the read model holds the post before any timeline
// does), the author's timeline if built (timelines.ts pushBuiltLua, which pushToReaderLua
// brings: ARGV[13], ARGV[14] are the last arguments, so the pair is the one post), then, unless
// the author is merged at read time (in `celebs`: returns {-3, 0}), the first batch of
// followers; above the threshold the author joins `celebs` ({-2, followers}, as the
// two-trip fan-out's addCeleb).
const firstTripScript = `${pushToReaderLua}${followerBatchLua}${seedPostLua}
seedPost(KEYS[7], KEYS[8], KEYS[9], KEYS[10], KEYS[11], ARGV[7], ARGV[8], ARGV[9], ARGV[10])
local n = pushBuilt(KEYS[13], KEYS[14], tonumber(ARGV[11]), 13)
if n > 0 then redis.call('INCRBY', KEYS[12], n) end
if redis.call('SISMEMBER', KEYS[6], ARGV[12]) == 1 then return {-3, 0} end
local r = pushFollowerBatch(13)
if r[1] == -2 then redis.call('SADD', KEYS[6], ARGV[12]) end
return r
`;

// A rebuild's store. KEYS fo:A, fo:b:A, fo:v:A; ARGV[1] the version seen before asking
// graph ("" = none), ARGV[2] TTL seconds, then the follower ids. Replaces the set and
// marks it built, only if no event bumped the version meanwhile. Returns 1 if stored.
const storeScript = `
if (redis.call('GET', KEYS[3]) or '') ~= ARGV[1] then return 0 end
local ttl = tonumber(ARGV[2])
redis.call('DEL', KEYS[1])
for i = 3, #ARGV, 500 do
  local args = {}
  for j = i, math.min(i + 499, #ARGV) do
    args[#args + 1] = 0
    args[#args + 1] = ARGV[j]
  end
  redis.call('ZADD', KEYS[1], unpack(args))
end
if #ARGV >= 3 then redis.call('EXPIRE', KEYS[1], ttl + 3600) end
redis.call('SET', KEYS[2], '1', 'EX', ttl)
return 1
`;

// A follow event. KEYS fo:A, fo:b:A, fo:v:A; ARGV[1] the follower, ARGV[2] "1" follows
// now / "0" does not. Bumps the version (fencing a rebuild under way) and, if the set is
// built, adds or removes the follower (the set outlives its marker by an hour).
/** Lua of FollowerSets.changed (KEYS: the set, its built marker, its version; ARGV: follower, 1 follows / 0 not), also run by follow-created.ts. */
export const applyScript = `
redis.call('INCR', KEYS[3])
redis.call('EXPIRE', KEYS[3], 86400)
local ttl = redis.call('TTL', KEYS[2])
if ttl > 0 then
  if ARGV[2] == '1' then
    redis.call('ZADD', KEYS[1], 0, ARGV[1])
    redis.call('EXPIRE', KEYS[1], ttl + 3600)
  else
    redis.call('ZREM', KEYS[1], ARGV[1])
  end
end
return 1
`;

type FollowerRedis = Redis & {
  oasisFeedFollowersPush(numKeys: number, ...args: Array<string | number>): Promise<[number, number | string]>;
  oasisFeedFanoutFirst(numKeys: number, ...args: Array<string | number | Buffer>): Promise<[number, number | string]>;
  oasisFeedFollowersStore(numKeys: number, ...args: Array<string | number>): Promise<number>;
  oasisFeedFollowersApply(numKeys: number, ...args: Array<string | number>): Promise<number>;
};

/** What one cached push found: not built (with the version to fence a rebuild with), above the threshold, or pushed. */
export type CachedPush =
  | { readonly kind: "miss"; readonly version: string }
  | { readonly kind: "celeb"; readonly followers: number }
  | { readonly kind: "pushed"; readonly delivered: number; readonly followers: number };

export class FollowerSets {
  private readonly redis: FollowerRedis;
  private readonly prefix: string;
  /** `feed_follower_sets_total{result}`: hit (a fan-out served from the set), miss, stored, fenced (a rebuild not stored). */
  readonly counter: Counter<"result"> | undefined;

  /** `ttlSeconds`: how long a built set is trusted before the next fan-out rebuilds it from graph. */
  constructor(
    redis: Redis,
    private readonly ttlSeconds: number,
    registry?: Registry,
  ) {
    if (!("oasisFeedFollowersPush" in redis)) {
      redis.defineCommand("oasisFeedFollowersPush", { lua: pushScript });
      redis.defineCommand("oasisFeedFanoutFirst", { lua: firstTripScript });
      redis.defineCommand("oasisFeedFollowersStore", { lua: storeScript });
      redis.defineCommand("oasisFeedFollowersApply", { lua: applyScript });
    }
    this.redis = redis as FollowerRedis;
    this.prefix = redis.options.keyPrefix ?? "";
    this.counter = registry
      ? new Counter({ name: "feed_follower_sets_total", help: "Fan-outs served from the feed's follower sets (hit) or not (miss), and rebuilds stored or fenced by a follow event.", labelNames: ["result"], registers: [registry] })
      : undefined;
  }

  /** The follower set of `author`, its built marker and its version (applyScript's KEYS). */
  static keys(author: bigint): [string, string, string] {
    return [`fo:${author}`, `fo:b:${author}`, `fo:v:${author}`];
  }

  /**
   * Pushes `postIds` to the built, active home timelines of `author`'s followers ranked
   * [`from`, `from + count`) in the set, if the set is built and holds at most
   * `threshold` followers; one Redis call. `cap`: home timeline length; `sinceMs`: the
   * oldest last read that counts as active.
   */
  async push(author: bigint, from: number, count: number, threshold: number, cap: number, sinceMs: number, postIds: readonly bigint[]): Promise<CachedPush> {
    const [fo, built, version] = FollowerSets.keys(author);
    const scored = postIds.flatMap((id) => [idTimeMs(id), id.toString()]);
    const [a, b] = await this.redis.oasisFeedFollowersPush(5, "delivered:home", "active", fo, built, version, this.prefix, cap, sinceMs, from, count, threshold, ...scored);
    if (a === -1) {
      this.counter?.inc({ result: "miss" });
      return { kind: "miss", version: String(b) };
    }
    if (from === 0) this.counter?.inc({ result: "hit" });
    return a === -2 ? { kind: "celeb", followers: Number(b) } : { kind: "pushed", delivered: a, followers: Number(b) };
  }

  /**
   * A post's first fan-out step in one Redis call (OASIS_FEED_ONE_TRIP_FANOUT): the read
   * model's seed (`seed`, ReadModel.seedParts), the post onto the author's timeline if it
   * is built (`userCap`), then, unless the author is merged at read time (`celebs`:
   * "merged", nothing pushed to followers), `push(author, 0, count, ...)` with the one
   * post; above `threshold` the author is added to `celebs` in the same call.
   */
  async pushFirst(author: bigint, postId: bigint, seed: SeedParts, userCap: number, count: number, threshold: number, cap: number, sinceMs: number): Promise<CachedPush | { readonly kind: "merged" }> {
    const [fo, built, version] = FollowerSets.keys(author);
    const [a, b] = await this.redis.oasisFeedFanoutFirst(
      14, "delivered:home", "active", fo, built, version, "celebs", ...seed.keys, "delivered:user", `ut:${author}`, `ub:${author}`,
      this.prefix, cap, sinceMs, 0, count, threshold, ...seed.args, userCap, String(author), idTimeMs(postId), postId.toString(),
    );
    if (a === -3) return { kind: "merged" };
    if (a === -1) {
      this.counter?.inc({ result: "miss" });
      return { kind: "miss", version: String(b) };
    }
    this.counter?.inc({ result: "hit" });
    return a === -2 ? { kind: "celeb", followers: Number(b) } : { kind: "pushed", delivered: a, followers: Number(b) };
  }

  /** Stores `author`'s followers as read from graph, unless a follow event bumped the version past `version`; true if stored. */
  async store(author: bigint, version: string, followers: readonly bigint[]): Promise<boolean> {
    const stored = (await this.redis.oasisFeedFollowersStore(3, ...FollowerSets.keys(author), version, this.ttlSeconds, ...followers.map(String))) === 1;
    this.counter?.inc({ result: stored ? "stored" : "fenced" });
    return stored;
  }

  /** A follow event: `follower` now follows `author` (`follows`) or not. Idempotent. */
  async changed(author: bigint, follower: bigint, follows: boolean): Promise<void> {
    await this.redis.oasisFeedFollowersApply(3, ...FollowerSets.keys(author), String(follower), follows ? "1" : "0");
  }

  /** The built set of `author` (ids, unordered), or undefined when not built. For tests and tools. */
  async read(author: bigint): Promise<bigint[] | undefined> {
    const [fo, built] = FollowerSets.keys(author);
    const [[, exists], [, ids]] = (await this.redis.pipeline().exists(built).zrange(fo, "0", "-1").exec()) as [[null, number], [null, string[]]];
    return exists === 1 ? ids.map(BigInt) : undefined;
  }
}
