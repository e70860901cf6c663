/**
 * What graph keeps in Redis so hot reads never touch MySQL (kit/cache.ts: versioned
 * cache-aside, so a reader racing a writer never caches old data). Per user:
 * - `counts:<user>`    "followers,following";
 * - `followers:<user>` and `following:<user>`: every edge as packed 64-bit pairs
 *   (edge id, user id), newest first. Lists page by binary search on the edge id (the
 *   edge id is time-ordered, so it also gives the follow time); fan-out and
 *   relationship checks read the same blobs. Lists longer than `listCacheMax` are
 *   served from MySQL instead (celebrities: for them the feed pulls at read time).
 * - `rel:<user>`: the small sets (requested, requested by, blocking, blocked by, muting).
 * Writers invalidate the entries of both users of an edge after their commit; a new
 * follow instead amends both users' cached lists and counts in place (`followAdded`),
 * so the reads that follow a follow (notification's and feed's relationship checks)
 * find them cached instead of loading whole lists from MySQL again.
 */
import { VersionedCache } from "#kit/cache.ts";
import type { Pool } from "#kit/mysql.ts";
import type { Redis } from "#kit/redis.ts";
import type { RelationFlag } from "./domain/model.ts";
import { countsByIds, edgeList, smallRelations } from "./store.ts";
import { decodeSmallSets, encodeSmallSets, SMALL_SETS_ENTRY, SMALL_SETS_TTL_S } from "../../shared-rules/graph-small-sets.ts";

export interface Counts {
  readonly followers: bigint;
  readonly following: bigint;
}

/** A user's follow edges, newest first: pairs[2i] = edge id, pairs[2i+1] = user id. */
export class EdgeList {
  private members?: Set<bigint>;

  constructor(readonly pairs: BigInt64Array) {}

  get length(): number {
    return this.pairs.length / 2;
  }

  /** True if `userId` is on the list (a Set is built on first use). */
  has(userId: bigint): boolean {
    if (!this.members) {
      this.members = new Set();
      for (let i = 1; i < this.pairs.length; i += 2) this.members.add(this.pairs[i]!);
    }
    return this.members.has(userId);
  }

  /** Up to `limit` entries with edge id below `beforeEdgeId` (all when undefined). */
  page(beforeEdgeId: bigint | undefined, limit: number): Array<{ edgeId: bigint; userId: bigint }> {
    let lo = 0;
    if (beforeEdgeId !== undefined) {
      // Edge ids descend: find the first index whose edge id is < beforeEdgeId.
      let hi = this.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.pairs[mid * 2]! >= beforeEdgeId) lo = mid + 1;
        else hi = mid;
      }
    }
    const out: Array<{ edgeId: bigint; userId: bigint }> = [];
    for (let i = lo; i < this.length && out.length < limit; i++) out.push({ edgeId: this.pairs[i * 2]!, userId: this.pairs[i * 2 + 1]! });
    return out;
  }

  userIds(): bigint[] {
    const out: bigint[] = [];
    for (let i = 1; i < this.pairs.length; i += 2) out.push(this.pairs[i]!);
    return out;
  }
}

function pack(values: readonly bigint[]): Buffer {
  return Buffer.from(BigInt64Array.from(values).buffer);
}

function unpack(buf: Buffer): BigInt64Array {
  // Copy into an aligned buffer: Redis replies are not 8-byte aligned.
  const copy = new Uint8Array(buf.byteLength);
  copy.set(buf);
  return new BigInt64Array(copy.buffer);
}

/** An oversized list is cached as this marker: "go to MySQL". */
const tooLarge = Buffer.from("L");

// KEYS: for each of the follower's `following` list, the followee's `followers` list,
// the follower's counts and the followee's counts: (value key, version key), 8 keys.
// ARGV[1..4] the version of each entry seen before the follow's transaction ("" = none);
// ARGV[5], ARGV[6] the 16-byte pair (edge id, user id) to add to each list; ARGV[7] the
// edge id as 8 big-endian bytes; ARGV[8] the longest list kept (listCacheMax).
// Each entry whose version is still the one seen is amended when cached (the pair put in
// its place by descending edge id unless already there; the follower's `following` + 1,
// the followee's `followers` + 1), else dropped; either way its version is bumped, so a
// reader that loaded before the commit cannot store an older value afterwards. A list
// cached as "too large" (L) stays so; one that would pass the limit is dropped.
const followAddedLua = `
local function older(v, off, be)
  for j = 8, 1, -1 do
    local a, b = string.byte(v, off + j), string.byte(be, 9 - j)
    if a ~= b then return a < b end
  end
  return false
end
local function has(v, pair)
  local from = 1
  while true do
    local at = string.find(v, pair, from, true)
    if not at then return false end
    if (at - 1) % 16 == 0 then return true end
    from = at + 1
  end
end
for i = 1, 4 do
  local vk, verk = KEYS[2 * i - 1], KEYS[2 * i]
  local cur = redis.call('GET', verk) or ''
  local v = redis.call('GET', vk)
  if cur ~= ARGV[i] then
    if v then redis.call('DEL', vk) end
  elseif v then
    if i <= 2 then
      if v ~= 'L' and not has(v, ARGV[4 + i]) then
        if #v / 16 >= tonumber(ARGV[8]) then
          redis.call('DEL', vk)
        else
          local n, at = #v / 16, 0
          while at < n and not older(v, at * 16, ARGV[7]) do at = at + 1 end
          redis.call('SET', vk, string.sub(v, 1, at * 16) .. ARGV[4 + i] .. string.sub(v, at * 16 + 1), 'KEEPTTL')
        end
      end
    else
      local f, g = string.match(v, '^(%d+),(%d+)$')
      if f then
        if i == 3 then g = tostring(tonumber(g) + 1) else f = tostring(tonumber(f) + 1) end
        redis.call('SET', vk, f .. ',' .. g, 'KEEPTTL')
      else
        redis.call('DEL', vk)
      end
    end
  end
  redis.call('INCR', verk)
  redis.call('EXPIRE', verk, 86400)
end
return 1
`;

/** What `GraphCache.followVersions` saw, for `followAdded`. */
export type FollowVersions = readonly [string, string, string, string];

type FollowRedis = Redis & { oasisGraphFollowAdded(...args: Array<string | Buffer | number>): Promise<number> };

export class GraphCache {
  private readonly counts: VersionedCache;
  private readonly lists: VersionedCache;
  private readonly small: VersionedCache;
  private readonly redis: FollowRedis;

  constructor(
    redis: Redis,
    private readonly db: Pool,
    private readonly listCacheMax: number,
  ) {
    this.counts = new VersionedCache(redis, "counts", 3600);
    this.lists = new VersionedCache(redis, "list", 3600);
    this.small = new VersionedCache(redis, SMALL_SETS_ENTRY, SMALL_SETS_TTL_S);
    if (!("oasisGraphFollowAdded" in redis)) redis.defineCommand("oasisGraphFollowAdded", { numberOfKeys: 8, lua: followAddedLua });
    this.redis = redis as FollowRedis;
  }

  /** The eight keys `followAdded` touches: value and version of each entry (kit/cache.ts naming). */
  private followKeys(followerId: bigint, followeeId: bigint): string[] {
    return [
      "list:following:" + followerId,
      "list:v:following:" + followerId,
      "list:followers:" + followeeId,
      "list:v:followers:" + followeeId,
      "counts:" + followerId,
      "counts:v:" + followerId,
      "counts:" + followeeId,
      "counts:v:" + followeeId,
    ];
  }

  /**
   * The versions of the entries a follow of `followeeId` by `followerId` changes, read
   * before its transaction, for `followAdded` (one MGET). A Redis error reads as
   * undefined: the caller then invalidates instead.
   */
  async followVersions(followerId: bigint, followeeId: bigint): Promise<FollowVersions | undefined> {
    const keys = this.followKeys(followerId, followeeId);
    const got = await this.redis.mget(keys[1]!, keys[3]!, keys[5]!, keys[7]!).catch(() => undefined);
    return got && [got[0] ?? "", got[1] ?? "", got[2] ?? "", got[3] ?? ""];
  }

  /**
   * After the commit that created the edge `edgeId` (follower -> followee): adds it to the
   * follower's cached following list and the followee's cached followers list and
   * counts one more on each side, in one Redis call, for each entry whose version is the
   * one `seen` before the transaction; an entry some other writer changed meanwhile is
   * dropped instead (as `invalidate`). The small sets do not change with a follow.
   * Redis errors are ignored like `invalidate`'s (the TTL bounds what a lost update costs).
   */
  async followAdded(followerId: bigint, followeeId: bigint, edgeId: bigint, seen: FollowVersions): Promise<void> {
    const be = Buffer.alloc(8);
    be.writeBigInt64BE(edgeId);
    await this.redis
      .oasisGraphFollowAdded(...this.followKeys(followerId, followeeId), ...seen, pack([edgeId, followeeId]), pack([edgeId, followerId]), be, this.listCacheMax)
      .catch(() => {});
  }

  /** Counts of `ids`; users with none get zeros. */
  async getCounts(ids: readonly bigint[]): Promise<Map<bigint, Counts>> {
    const got = await this.counts.getMany(ids.map(String), async (missing) => {
      const stored = await countsByIds(this.db, missing.map(BigInt));
      return new Map(
        missing.map((k) => {
          const c = stored.get(BigInt(k)) ?? { followers: 0n, following: 0n };
          return [k, Buffer.from(`${c.followers},${c.following}`)];
        }),
      );
    });
    return new Map(
      [...got].map(([k, v]) => {
        const [followers, following] = v.toString().split(",");
        return [BigInt(k), { followers: BigInt(followers!), following: BigInt(following!) }];
      }),
    );
  }

  /**
   * The follower or following list of `userId`, or undefined when it is longer than the
   * cache keeps (the caller then pages MySQL).
   */
  async list(kind: "followers" | "following", userId: bigint): Promise<EdgeList | undefined> {
    const key = `${kind}:${userId}`;
    const got = await this.lists.getMany([key], async () => {
      const rows = await edgeList(this.db, kind, userId, this.listCacheMax + 1);
      if (rows.length > this.listCacheMax) return new Map([[key, tooLarge]]);
      return new Map([[key, pack(rows.flatMap((r) => [r.id, r.userId]))]]);
    });
    const buf = got.get(key)!;
    if (buf.equals(tooLarge)) return undefined;
    return new EdgeList(unpack(buf));
  }

  /**
   * Both lists of `userId` if both are cached and neither is too long to cache, else
   * undefined; never loads (VersionedCache.peek): a caller asking about a few users
   * answers from MySQL directly instead of loading whole lists (domain/relations.ts).
   */
  async cachedLists(userId: bigint): Promise<{ following: EdgeList; followers: EdgeList } | undefined> {
    const [fk, rk] = [`following:${userId}`, `followers:${userId}`];
    const got = await this.lists.peek([fk, rk]);
    const [following, followers] = [got.get(fk), got.get(rk)];
    if (!following || !followers || following.equals(tooLarge) || followers.equals(tooLarge)) return undefined;
    return { following: new EdgeList(unpack(following)), followers: new EdgeList(unpack(followers)) };
  }

  /** The small relation sets of `userId` (requested, requested by, blocking, blocked by, muting). */
  async smallSets(userId: bigint): Promise<Map<RelationFlag, Set<bigint>>> {
    const key = String(userId);
    const got = await this.small.getMany([key], async () => {
      const sets = await smallRelations(this.db, userId);
      return new Map([[key, encodeSmallSets(sets)]]);
    });
    return decodeSmallSets(got.get(key)!);
  }

  /** Forgets everything cached about `ids`; call after the commit that changed them. */
  async invalidate(ids: readonly bigint[]): Promise<void> {
    const users = ids.map(String);
    await Promise.all([
      this.counts.invalidate(users),
      this.small.invalidate(users),
      this.lists.invalidate(users.flatMap((u) => [`followers:${u}`, `following:${u}`])),
    ]);
  }
}
