/**
 * Search's results read model (design note 26): what a result needs to be presented, in
 * search's own Redis, kept by the events search already consumes, so a search is the
 * engine query, Redis pipelines and at most one batch call (graph, for a signed-in
 * viewer's relationships, which a block or mute must change at once) instead of calls
 * to post, identity, graph and interaction per page.
 *
 * Keys (prefix `srm:`; every one repairs itself: a miss is loaded from its owner, as a
 * service, and stored):
 * - `srm:post:<id>`  `<v>|<author id>|<Post bytes>`: the post as BatchGetPosts returns it
 *                    to a service, at version v = update time in microseconds; a deleted
 *                    or unknown post is a tombstone (`dead||`) that nothing overwrites.
 *                    Written by post_created / post_updated / post_deleted and reindex.
 * - `srm:user:<id>`  `<v>||<Profile bytes>`, v = update time (create time) in us.
 *                    Written by account_created / profile_updated and by reindex.
 *   A page's posts and their authors' profiles are read in one Lua call (the author id
 *   in the post's value names the profile key; one Redis, not a cluster).
 *   Writes are compare-and-set on v in one Lua call (an older or equal-but-late write
 *   loses), so a redelivered or reordered event, or a read that loaded an older row
 *   while an event wrote a newer one, never leaves the older state behind.
 * - `srm:counts:<id>`, `srm:state:<viewer>:<id>` counters and the viewer's liked/referred
 *                    state, loaded from interaction (when the mesh has it) and cached
 *                    `countsTtl` seconds (kit/cache.ts VersionedCache); interaction's
 *                    post_liked / post_unliked / comment_* events and refer-tos drop them,
 *                    so the next search reloads them.
 * Snapshots expire after a day without an event (memory bound; the next read reloads).
 *
 * Decoding is most of a search's CPU (reflective Protobuf: ~25 us per post), so each
 * process keeps the decoded messages of the snapshots it read last (`decodedCap`), keyed
 * by key and version: a read still fetches the version from Redis, and decodes only when
 * it changed. Nothing is served from memory that Redis no longer holds.
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { asService, optionalCall } from "#kit/client.ts";
import { VersionedCache } from "#kit/cache.ts";
import type { Redis } from "#kit/redis.ts";
import { ProfileSchema, type Profile } from "#gen/oasis/identity/v1/profile_pb.ts";
import { PostCountsSchema, ViewerStateSchema, type PostCounts, type ViewerState } from "#gen/oasis/interaction/v1/interaction_pb.ts";
import { PostSchema, type Post } from "#gen/oasis/post/v1/post_pb.ts";
import type { SearchContext } from "./context.ts";

const day = 86_400;
/** Seconds counters and viewer state stay cached without an event (their staleness bound). */
export const countsTtl = 300;
const dead = "dead";
/** Decoded snapshots kept per process (least recently read dropped first). */
const decodedCap = 20_000;

// A snapshot is one string: `<version>|<owner>|<Protobuf bytes>` (owner: a post's author
// id, empty for a profile); a tombstone is `dead||`, final.
// KEYS: snapshot keys; ARGV[1] TTL seconds, then (version, value) per key. Writes a
// value unless the key holds a tombstone or a newer version. Returns how many were written.
const putIfNewer = `
local ttl = tonumber(ARGV[1])
local n = 0
for i = 1, #KEYS do
  local v, val = ARGV[2 * i], ARGV[2 * i + 1]
  local cur = redis.call('GET', KEYS[i])
  local cv = cur and string.match(cur, '^([^|]*)|')
  if cv ~= 'dead' and (v == 'dead' or not cv or tonumber(cv) <= tonumber(v)) then
    redis.call('SET', KEYS[i], val, 'EX', ttl)
    n = n + 1
  end
end
return n
`;

// KEYS: post snapshot keys; ARGV[1]: the full key prefix of profile snapshots. Returns the
// post values in order (nil when absent), then (author id, profile value or nil) for each
// distinct author of the live ones: a page's posts and authors in one round trip.
const getWithOwners = `
local res, seen, owners = {}, {}, {}
for i = 1, #KEYS do
  local val = redis.call('GET', KEYS[i])
  res[i] = val
  if val then
    local owner = string.match(val, '^[^|]*|([^|]*)|')
    if owner and owner ~= '' and not seen[owner] then
      seen[owner] = true
      owners[#owners + 1] = owner
    end
  end
end
for _, o in ipairs(owners) do
  res[#res + 1] = o
  res[#res + 1] = redis.call('GET', ARGV[1] .. o)
end
return res
`;

type RmRedis = Redis & {
  oasisSearchRmPut(numKeys: number, ...args: Array<string | Buffer | number>): Promise<number>;
  oasisSearchRmGetBuffer(numKeys: number, ...args: string[]): Promise<Array<Buffer | null>>;
};

/** A snapshot value split: version, owner (author id or ""), message bytes. */
function split(val: Buffer): { v: string; owner: string; b: Buffer } {
  const i = val.indexOf(0x7c);
  const j = val.indexOf(0x7c, i + 1);
  return { v: val.toString("latin1", 0, i), owner: val.toString("latin1", i + 1, j), b: val.subarray(j + 1) };
}

const micros = (t: { seconds: bigint; nanos: number } | undefined) => (t ? t.seconds * 1_000_000n + BigInt(Math.floor(t.nanos / 1000)) : 0n);
/** A post's version: its update time (creation time until edited), us. */
export const postVersion = (p: Post) => String(micros(p.updatedAt) || micros(p.createdAt));
/** A profile's version: its update time (create time if never updated), us. */
export const profileVersion = (p: Profile) => String(micros(p.updateTime) || micros(p.createTime));

/**
 * Decoded messages by key, with the version and bytes they were decoded from; insertion
 * order is recency. A hit needs the same bytes, not only the same version: moderation
 * flips a post's flags (taken_down, author_suspended) without changing its update time,
 * and comparing bytes (a memcmp) is still far cheaper than decoding them again.
 */
class Decoded<T> {
  private readonly map = new Map<string, { v: string; bytes: Buffer; msg: T }>();
  constructor(private readonly decode: (b: Uint8Array) => T) {}

  get(key: string, v: string, b: Uint8Array): T {
    const hit = this.map.get(key);
    if (hit && hit.v === v && hit.bytes.equals(b)) {
      this.map.delete(key);
      this.map.set(key, hit);
      return hit.msg;
    }
    const msg = this.decode(b);
    this.map.delete(key);
    this.map.set(key, { v, bytes: Buffer.from(b), msg });
    if (this.map.size > decodedCap) this.map.delete(this.map.keys().next().value!);
    return msg;
  }
}

type Entry = readonly [key: string, version: string, owner: string, bytes: Uint8Array];

export class SearchReadModel {
  private readonly redis: RmRedis;
  private readonly counters: VersionedCache;
  private readonly states: VersionedCache;
  private readonly decodedPosts = new Decoded((b) => fromBinary(PostSchema, b));
  private readonly decodedProfiles = new Decoded((b) => fromBinary(ProfileSchema, b));

  constructor(redis: Redis) {
    if (!("oasisSearchRmPut" in redis)) {
      redis.defineCommand("oasisSearchRmPut", { lua: putIfNewer });
      redis.defineCommand("oasisSearchRmGet", { lua: getWithOwners });
    }
    this.redis = redis as RmRedis;
    this.counters = new VersionedCache(redis, "srm:counts", countsTtl);
    this.states = new VersionedCache(redis, "srm:state", countsTtl);
  }

  private async put(entries: readonly Entry[]): Promise<void> {
    if (!entries.length) return;
    const value = (e: Entry) => Buffer.concat([Buffer.from(`${e[1]}|${e[2]}|`, "latin1"), e[3]]);
    await this.redis.oasisSearchRmPut(entries.length, ...entries.map((e) => e[0]), day, ...entries.flatMap((e) => [e[1], value(e)]));
  }

  /** post_created / post_updated / reindex: the post as it now is (kept if newer). */
  putPosts(posts: readonly Post[]): Promise<void> {
    return this.put(posts.map((p) => [`srm:post:${p.postId}`, postVersion(p), String(p.authorId), toBinary(PostSchema, p)] as const));
  }

  /** post_deleted: a tombstone, final. */
  deletePost(postId: bigint): Promise<void> {
    return this.put([[`srm:post:${postId}`, dead, "", new Uint8Array()]]);
  }

  /** account_created / profile_updated / reindex. */
  putProfiles(profiles: readonly Profile[]): Promise<void> {
    return this.put(profiles.map((p) => [`srm:user:${p.userId}`, profileVersion(p), "", toBinary(ProfileSchema, p)] as const));
  }

  /**
   * Live posts of `ids` and their authors' profiles, by id (deleted and unknown posts
   * absent), in one Redis call; misses are loaded from post and identity as a service
   * and stored.
   */
  async getPostsWithAuthors(ctx: SearchContext, ids: readonly bigint[]): Promise<{ posts: Map<bigint, Post>; authors: Map<bigint, Profile> }> {
    const posts = new Map<bigint, Post>();
    const authors = new Map<bigint, Profile>();
    if (!ids.length) return { posts, authors };
    const prefix = `${this.redis.options.keyPrefix ?? ""}srm:user:`;
    const res = await this.redis.oasisSearchRmGetBuffer(ids.length, ...ids.map((id) => `srm:post:${id}`), prefix);
    const missing: bigint[] = [];
    ids.forEach((id, i) => {
      const val = res[i];
      if (!val) return void missing.push(id);
      const s = split(val);
      if (s.v !== dead) posts.set(id, this.decodedPosts.get(`${id}`, s.v, s.b));
    });
    for (let i = ids.length; i + 1 < res.length; i += 2) {
      const id = BigInt(res[i]!.toString());
      const val = res[i + 1];
      if (!val) continue;
      const s = split(val);
      authors.set(id, this.decodedProfiles.get(`${id}`, s.v, s.b));
    }
    if (missing.length) {
      const found = (await ctx.post.batchGetPosts({ postIds: missing }, asService())).posts;
      for (const p of found) posts.set(p.postId, p);
      // Asked as a service, only deleted or unknown posts are left out: remember that.
      const foundIds = new Set(found.map((p) => p.postId));
      await Promise.all([this.putPosts(found), ...missing.filter((id) => !foundIds.has(id)).map((id) => this.deletePost(id))]).catch(() => {});
    }
    const noProfile = [...new Set([...posts.values()].map((p) => p.authorId))].filter((a) => !authors.has(a));
    for (const [id, p] of await this.getProfiles(ctx, noProfile)) authors.set(id, p);
    return { posts, authors };
  }

  /** Profiles of `ids` that exist, by id, in one Redis call; misses loaded from identity as a service. */
  async getProfiles(ctx: SearchContext, ids: readonly bigint[]): Promise<Map<bigint, Profile>> {
    const out = new Map<bigint, Profile>();
    if (!ids.length) return out;
    const got = await this.redis.mgetBuffer(...ids.map((id) => `srm:user:${id}`));
    const missing: bigint[] = [];
    ids.forEach((id, i) => {
      const val = got[i];
      if (!val) return void missing.push(id);
      const s = split(val);
      out.set(id, this.decodedProfiles.get(`${id}`, s.v, s.b));
    });
    if (!missing.length) return out;
    const found = (await ctx.identity.batchGetProfiles({ userIds: missing }, asService())).profiles;
    for (const p of found) out.set(p.userId, p);
    await this.putProfiles(found).catch(() => {});
    return out;
  }

  /** Counters of `ids` (none when interaction is absent or down; nothing cached then). */
  async getCounts(ctx: SearchContext, ids: readonly bigint[]): Promise<Map<bigint, PostCounts>> {
    if (!ids.length || !ctx.interaction) return new Map();
    const got = await this.counters.getMany(ids.map(String), async (missing) => {
      const found = await optionalCall(ctx.interaction?.batchGetCounts({ postIds: missing.map(BigInt) }).then((r) => r.counts), []);
      return new Map(found.map((c) => [String(c.postId), Buffer.from(toBinary(PostCountsSchema, c))]));
    });
    return new Map([...got.values()].map((v) => fromBinary(PostCountsSchema, v)).map((c) => [c.postId, c]));
  }

  /** What `viewer` did to each of `ids` (liked, referred), asked of interaction as the viewer on a miss. */
  async getStates(ctx: SearchContext, viewer: bigint | null, ids: readonly bigint[]): Promise<Map<bigint, ViewerState>> {
    if (!ids.length || !ctx.interaction || viewer === null) return new Map();
    const key = (id: bigint | string) => `${viewer}:${id}`;
    const got = await this.states.getMany(ids.map(key), async (missing) => {
      const postIds = missing.map((k) => BigInt(k.slice(k.indexOf(":") + 1)));
      const found = await optionalCall(ctx.interaction?.batchGetViewerState({ postIds }).then((r) => r.states), []);
      return new Map(found.map((s) => [key(s.postId), Buffer.from(toBinary(ViewerStateSchema, s))]));
    });
    return new Map([...got.values()].map((v) => fromBinary(ViewerStateSchema, v)).map((s) => [s.postId, s]));
  }

  /** A like, comment or refer-to changed `postId`'s counters (and, with `user`, that user's state). */
  async touched(postId: bigint, user?: bigint): Promise<void> {
    await this.counters.invalidate([String(postId)]);
    if (user !== undefined) await this.states.invalidate([`${user}:${postId}`]);
  }
}

