/**
 * The feed's read model: what a page needs, in the feed's own Redis, so a home or user
 * timeline read is Redis plus one graph call (the viewer's relationships, which a mute or
 * block must change at once) instead of a call to post, identity and interaction each.
 *
 * Four versioned caches (kit/cache.ts: a read that missed stores what it loaded only if
 * no event wrote the key meanwhile):
 * - `rm:post:<id>`    a post as PostService.BatchGetPosts returns it to a service (media and
 *                     refer_post_id included), or a tombstone once deleted; written by
 *                     post_created / post_updated / post_deleted. A live post's bytes start
 *                     with `\x02<author id>,<refer post id>;` so the page path's Lua
 *                     (page-path/pieces.ts) finds the author and referred post without
 *                     decoding Protobuf (`\x00` + bytes, the older form, is still read).
 * - `rm:author:<id>`  the author's profile; written by account_created / profile_updated.
 * - `rm:counts:<id>`  the post's counters; a new post starts at zero (post_created), likes
 *                     and comments drop it (post_liked, post_unliked, comment_created,
 *                     comment_deleted) so the next read loads the new numbers.
 * - `rm:likers:<id>`, `rm:ref:<viewer>:<id>` (who liked the post; the viewer's posts
 *                     referring to it), and `rm:whole:<id>`, set by post_created: the read
 *                     model saw the post's whole life, so its liker and refer sets are
 *                     complete and the viewer's state is read from them, with no call.
 *                     Kept by post_liked / post_unliked and refer-tos created / deleted
 *                     (SADD / SREM: a redelivered event changes nothing). The sets live two
 *                     hours longer than the marker, so a set never expires under it.
 * - `rm:rel:<viewer>:<user>` the viewer's Relationship to the user as graph's
 *                     BatchGetRelationships gave it: written by every page read (which asks
 *                     graph anyway) and refreshed in place by the graph events that change
 *                     it (follow, unfollow, block, mute and their undoing, follow requests;
 *                     read-model-events.ts), kept `relTtl`. Only the page path reads it;
 *                     the feed's own reads still ask graph every page.
 * - `rm:rels:<viewer>` the viewer's relationship set (page-path/pieces.ts relSetKey): a
 *                     hash of every non-empty Relationship of the viewer (graph's
 *                     ListRelationships, one call) by the other user's id, and `*` = "1"
 *                     (complete: a user with no field relates to the viewer not at all) or
 *                     "0" (more than relSetMax: not kept, pairs are filled one by one).
 *                     The page path reads it where `rm:rel` misses, and the edge loads it
 *                     (OASIS_EDGE_REL_SETS) instead of asking graph pair by pair, so a user
 *                     timeline of someone the viewer never read needs no graph call. Loads
 *                     store only if `rm:rels:v:<viewer>` did not move since they started;
 *                     every graph event of a pair drops and fences the set of each user
 *                     whose view changed (relationshipsChanged; both for a follow, follow
 *                     request or block, the muter for a mute), as does a relationship write
 *                     through the edge, so an "empty" from a set is never older than the
 *                     last event consumed. Kept `relTtl` (the bound on a missed event).
 * - `rm:page-path`    `<active ms> <home ttl s> <interaction 0|1>`: what the page path needs
 *                     of the feed's configuration, written at start; absent while
 *                     OASIS_FEED_READ_MODEL=0 (the page path then always falls back).
 * - `rm:state:<viewer>:<id>` what the viewer did to a post the read model did not see
 *                     from its creation (liked, referred), loaded from interaction; dropped
 *                     by the viewer's post_liked / post_unliked and their refer-tos.
 *
 * Repair: every key is also loaded from its source on a miss (BatchGetPosts,
 * BatchGetProfiles, BatchGetCounts, BatchGetViewerState) and stored, so a read model that
 * lost keys (Redis flushed, events missed before the feed existed) rebuilds itself on
 * the next reads; keys expire (posts and profiles after a day, counters and viewer state
 * after `countsTtl`), which bounds how long a missed event can leave a key stale. A refer
 * count is added by interaction's own consumer of post_created, which may run after the
 * feed dropped the counter (and a read stored the old count again): a refer-to drops the
 * counter again `referRecheckMs` later (a delayed second invalidation), so such a count is
 * late by seconds, and by at most `countsTtl` if interaction lags more than that.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { asService, asUser, optionalCall } from "#kit/client.ts";
import { VersionedCache } from "#kit/cache.ts";
import type { Caller } from "#kit/call-context.ts";
import { Pipeline, type Redis } from "#kit/redis.ts";
import { ProfileSchema, type Profile } from "#gen/oasis/identity/v1/profile_pb.ts";
import { PostCountsSchema, ViewerStateSchema, type PostCounts, type ViewerState } from "#gen/oasis/interaction/v1/interaction_pb.ts";
import { PostSchema, type Post } from "#gen/oasis/post/v1/post_pb.ts";
import { RelationshipSchema, type Relationship } from "#gen/oasis/graph/v1/graph_pb.ts";
import type { FeedContext } from "./context.ts";
import { amendFencedRelationshipSets, amendRelationshipSets, countsTtl, pairId, pairKey, storedCounts, storedRelationships, storedStates, decodeStoredPost, dropRelationshipSets, encodeStoredPost, relSetKey, relSetSentinel, relTtl, withRelSetScripts } from "./page-path/pieces.ts";

const day = 86_400;
/** When a refer-to's counter is dropped again, ms after the event (interaction counts it in its own consumer). */
export const referRecheckMs = [3_000, 15_000];
/** Liker and refer sets outlive the `rm:whole` marker by this much (seconds). */
const setsSlack = 7_200;
/** Seconds counters and viewer state stay cached without an event (the staleness bound; defined beside the page path, which fills them too). */
export { countsTtl };
/** The key (under the feed's prefix) of the page path's settings. */
export const pagePathKey = "rm:page-path";
const tombstone = Buffer.from([1]);
const live = encodeStoredPost;

/**
 * Lua, spliced into the seed script here and the fan-out's first round trip
 * (followers.ts): `seedPost(post, postV, counts, countsV, whole, bytes, zero, ttl,
 * countsTtl)` with the post's value and version keys, its counters' value and version
 * keys, its `rm:whole` marker (all passed in KEYS), the post's bytes, zero counters'
 * bytes, the post TTL and the counters' TTL. What post_created writes, only if the read
 * model never held the post (no version key: no event wrote it yet, so nothing newer can
 * be overwritten); the counters likewise only if nothing touched them. Returns 1 when it wrote.
 */
export const seedPostLua = `
local function seedPost(post, postV, counts, countsV, whole, bytes, zero, ttl, countsTtl)
  if redis.call('EXISTS', postV) == 1 then return 0 end
  redis.call('SET', post, bytes, 'EX', tonumber(ttl))
  redis.call('INCR', postV)
  redis.call('EXPIRE', postV, 86400)
  if redis.call('EXISTS', countsV) == 0 then
    redis.call('SET', counts, zero, 'EX', tonumber(countsTtl))
    redis.call('INCR', countsV)
    redis.call('EXPIRE', countsV, 86400)
  end
  redis.call('SET', whole, '1', 'EX', tonumber(ttl))
  return 1
end
`;

// KEYS: the post's value and version keys, its counters' value and version keys, its
// `rm:whole` marker. ARGV: the post's bytes, zero counters' bytes, the post TTL, the
// counters' TTL (seedPostLua).
const seedScript = `${seedPostLua}
return seedPost(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
`;

/** A new post's seed (seedPostLua) as 5 keys and 4 arguments, for a script that runs it with other writes. */
export interface SeedParts {
  readonly keys: [string, string, string, string, string];
  readonly args: [Buffer, Buffer, number, number];
}

export class ReadModel {
  private readonly posts: VersionedCache;
  private readonly authors: VersionedCache;
  private readonly counters: VersionedCache;
  private readonly states: VersionedCache;
  private readonly rels: VersionedCache;

  constructor(private readonly redis: Redis) {
    if (!("oasisFeedSeedPost" in redis)) redis.defineCommand("oasisFeedSeedPost", { numberOfKeys: 5, lua: seedScript });
    withRelSetScripts(redis);
    this.rels = new VersionedCache(redis, "rm:rel", relTtl);
    this.posts = new VersionedCache(redis, "rm:post", day);
    this.authors = new VersionedCache(redis, "rm:author", day);
    this.counters = new VersionedCache(redis, "rm:counts", countsTtl);
    this.states = new VersionedCache(redis, "rm:state", countsTtl);
  }

  /** Live posts among `ids`, in order (deleted and unknown ones left out). */
  async getPosts(ctx: FeedContext, ids: readonly bigint[]): Promise<Post[]> {
    if (ids.length === 0) return [];
    const got = await this.posts.getMany(ids.map(String), async (missing) => {
      const found = (await ctx.post.batchGetPosts({ postIds: missing.map(BigInt) }, asService())).posts;
      const out = new Map(found.map((p) => [String(p.postId), live(p)]));
      // Asked as a service, only deleted or unknown posts are left out: remember that.
      for (const k of missing) if (!out.has(k)) out.set(k, tombstone);
      return out;
    });
    const out: Post[] = [];
    for (const id of ids) {
      const v = got.get(String(id));
      const post = v && decodeStoredPost(v);
      if (post) out.push(post);
    }
    return out;
  }

  /**
   * How `viewer` (the current call's caller) relates to each of `ids`. With
   * OASIS_FEED_READ_REL_SETS (default on) and the viewer's complete relationship set in
   * Redis (`rm:rels:<viewer>`, loaded by the page path, amended by graph events and by
   * the viewer's own writes through the edge; relationshipsFromSet), from the set, no
   * graph call: a change made straight on graph shows once its event is consumed, the
   * bound the page path has. Otherwise asked of graph now and kept as
   * `rm:rel:<viewer>:<id>` for the page path, unless a graph event changed the pair
   * meanwhile.
   */
  async getRelationships(ctx: FeedContext, viewer: bigint, ids: readonly bigint[]): Promise<Relationship[]> {
    if (ids.length === 0) return [];
    if (ctx.rt.config.relSetReads) {
      const fromSet = await this.relationshipsFromSet(viewer, ids);
      if (fromSet) return fromSet;
    }
    const got = await this.rels.refresh(ids.map((id) => pairKey(viewer, id)), async () =>
      storedRelationships(viewer, (await ctx.graph.batchGetRelationships({ userIds: [...ids] })).relationships),
    );
    return [...got.values()].map((v) => fromBinary(RelationshipSchema, v));
  }

  /**
   * `viewer`'s relationships to `ids` from their complete relationship set (one HMGET of
   * the sentinel and the ids; page-path/pieces.ts relSetKey): a field's bytes, or the empty
   * Relationship for an id without one (a complete set holds every non-empty one).
   * Undefined when the set is absent or too large ("0"): ask graph.
   */
  async relationshipsFromSet(viewer: bigint, ids: readonly bigint[]): Promise<Relationship[] | undefined> {
    const got = await this.redis.hmgetBuffer(relSetKey(viewer), relSetSentinel, ...ids.map(String));
    if (got[0]?.toString() !== "1") return undefined;
    return ids.map((id, i) => {
      const v = got[i + 1];
      return v ? fromBinary(RelationshipSchema, v) : create(RelationshipSchema, { userId: id });
    });
  }

  /**
   * A graph event changed how each (viewer, user) pair relates: each viewer's
   * relationship set (`rm:rels`) is amended in place (`amendSets`, OASIS_FEED_REL_SET_AMEND:
   * fenced, the pair asked of graph as the viewer, written only if no other change moved
   * the set's version meanwhile, else dropped; page-path/pieces.ts amendRelationshipSets)
   * or dropped and fenced, and the cached pairs (`rm:rel`) are fenced, asked of graph again
   * (as the viewer; one answer per pair serves both) and stored, the others only fenced.
   * `fenced`: with `amendSets`, the viewers' sets were fenced already (the versions the
   * fence returned, one per pair: follow-created.ts fences them in its one call), so only
   * the amend's second half runs here.
   */
  async relationshipsChanged(ctx: FeedContext, pairs: ReadonlyArray<readonly [bigint, bigint]>, amendSets = false, fenced?: readonly string[]): Promise<void> {
    // One graph answer per pair, asked after the event's commit (events are published
    // after it), for both the set and the cached pair.
    const answers = new Map<string, Promise<Relationship[]>>();
    const ask = (viewer: bigint, user: bigint) => {
      const key = `${viewer}:${user}`;
      let got = answers.get(key);
      if (!got) answers.set(key, (got = ctx.graph.batchGetRelationships({ userIds: [user] }, asUser(viewer)).then((r) => r.relationships)));
      return got;
    };
    if (amendSets) {
      try {
        const asked = (viewer: bigint, users: bigint[]) => ask(viewer, users[0]!);
        await (fenced ? amendFencedRelationshipSets(this.redis, "", pairs, fenced, asked) : amendRelationshipSets(this.redis, "", pairs, asked));
      } catch (err) {
        // Graph did not answer: the sets (fenced, still answering the old pair) are dropped
        // so the page path does not keep showing what the change undid; the event is
        // redelivered.
        await dropRelationshipSets(this.redis, "", pairs.map(([viewer]) => viewer));
        throw err;
      }
    } else {
      // The viewers' relationship sets first: the page path falls back to them while the
      // pairs below are fenced, and a set loaded before the change must not answer after it.
      await dropRelationshipSets(this.redis, "", pairs.map(([viewer]) => viewer));
    }
    await this.rels.refresh(
      pairs.map(([viewer, user]) => `${viewer}:${user}`),
      async (keys) => {
        const out = new Map<string, Buffer>();
        for (const key of keys) {
          const [viewer, user] = key.split(":").map(BigInt) as [bigint, bigint];
          for (const r of await ask(viewer, user)) out.set(`${viewer}:${r.userId}`, Buffer.from(toBinary(RelationshipSchema, r)));
        }
        return out;
      },
      { onlyCached: true },
    );
  }

  /**
   * Tells the page path (page-path/) the feed's settings it must apply the same way, or,
   * with `enabled` false (OASIS_FEED_READ_MODEL=0), that it must not serve pages.
   */
  async publishPagePath(activeMs: number, homeTtlSeconds: number, interaction: boolean, enabled: boolean): Promise<void> {
    if (enabled) await this.redis.set(pagePathKey, `${activeMs} ${homeTtlSeconds} ${interaction ? 1 : 0}`);
    else await this.redis.del(pagePathKey);
  }

  /** Profiles of `ids` that exist. */
  async getProfiles(ctx: FeedContext, ids: readonly bigint[]): Promise<Profile[]> {
    if (ids.length === 0) return [];
    const got = await this.authors.getMany(ids.map(String), async (missing) => {
      const found = (await ctx.identity.batchGetProfiles({ userIds: missing.map(BigInt) }, asService())).profiles;
      return new Map(found.map((p) => [String(p.userId), Buffer.from(toBinary(ProfileSchema, p))]));
    });
    return [...got.values()].map((v) => fromBinary(ProfileSchema, v));
  }

  /** Counters of `ids` (empty when interaction is absent or down; nothing cached then). */
  async getCounts(ctx: FeedContext, ids: readonly bigint[]): Promise<PostCounts[]> {
    if (ids.length === 0 || !ctx.interaction) return [];
    const got = await this.counters.getMany(ids.map(String), async (missing) =>
      storedCounts(await optionalCall(ctx.interaction?.batchGetCounts({ postIds: missing.map(BigInt) }).then((r) => r.counts), [])),
    );
    return [...got.values()].map((v) => fromBinary(PostCountsSchema, v));
  }

  /**
   * What `viewer` did to each of `ids`: from the liker and refer sets for posts the read
   * model saw whole (one pipeline), from the per-viewer cache or interaction (asked as the
   * viewer: the current call's caller) for the rest.
   */
  async getStates(ctx: FeedContext, viewer: Caller, ids: readonly bigint[]): Promise<ViewerState[]> {
    if (ids.length === 0 || !ctx.interaction || viewer.userId === null) return [];
    const me = String(viewer.userId);
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.exists(`rm:whole:${id}`).sismember(`rm:likers:${id}`, me).exists(`rm:ref:${me}:${id}`);
    const res = (await pipe.exec()) ?? [];
    const out: ViewerState[] = [];
    const rest: bigint[] = [];
    ids.forEach((id, i) => {
      const [whole, liked, referred] = [res[3 * i], res[3 * i + 1], res[3 * i + 2]].map((r) => !r?.[0] && r?.[1] === 1);
      if (whole) out.push(create(ViewerStateSchema, { postId: id, liked, referred }));
      else rest.push(id);
    });
    if (rest.length === 0) return out;
    const got = await this.states.getMany(rest.map((id) => pairKey(me, id)), async (missing) =>
      storedStates(me, await optionalCall(ctx.interaction?.batchGetViewerState({ postIds: missing.map(pairId) }).then((r) => r.states), [])),
    );
    for (const v of got.values()) out.push(fromBinary(ViewerStateSchema, v));
    return out;
  }

  /**
   * post_created / post_updated: the post as it now is. A new post's counters start at
   * zero, and from now on its likes and refer-tos are all seen (`rm:whole`).
   */
  async putPost(post: Post, isNew: boolean): Promise<void> {
    await this.posts.put(new Map([[String(post.postId), live(post)]]));
    if (isNew) {
      await this.counters.put(new Map([[String(post.postId), Buffer.from(toBinary(PostCountsSchema, create(PostCountsSchema, { postId: post.postId })))]]));
      await this.redis.set(`rm:whole:${post.postId}`, "1", "EX", day);
    }
  }

  /**
   * What post_created writes (the post, zero counters, `rm:whole`), if no event wrote the
   * post yet: the fan-out calls it before pushing the post onto timelines, so a page read
   * right after the push finds the post in the read model whichever consumer runs first
   * (the page path misses on a post it cannot find). With OASIS_FEED_ONE_TRIP_CREATE the
   * read model's own post_created consumer calls it too, instead of putPost: one round
   * trip, and nothing overwritten that a later event (a like's fence) already wrote.
   * `stored`: the post's rm:post bytes when the caller has them (pieces.ts storedPostFromEvent).
   */
  async seedNewPost(post: Post, stored: Buffer = live(post)): Promise<void> {
    const { keys, args } = ReadModel.seedParts(post, stored);
    await (this.redis as Redis & { oasisFeedSeedPost(...args: Array<string | Buffer | number>): Promise<number> }).oasisFeedSeedPost(...keys, ...args);
  }

  /** seedNewPost's keys and arguments (seedPostLua), for the fan-out's first round trip. `stored`: as seedNewPost's. */
  static seedParts(post: Post, stored: Buffer = live(post)): SeedParts {
    const id = String(post.postId);
    const zero = Buffer.from(toBinary(PostCountsSchema, create(PostCountsSchema, { postId: post.postId })));
    return { keys: [`rm:post:${id}`, `rm:post:v:${id}`, `rm:counts:${id}`, `rm:counts:v:${id}`, `rm:whole:${id}`], args: [stored, zero, day, countsTtl] };
  }

  /** post_liked (`liked`) / post_unliked: the liker set of `postId`. */
  async liked(postId: bigint, user: bigint, liked: boolean): Promise<void> {
    const key = `rm:likers:${postId}`;
    const pipe = this.redis.multi();
    if (liked) pipe.sadd(key, String(user));
    else pipe.srem(key, String(user));
    await pipe.expire(key, day + setsSlack).exec();
  }

  /**
   * post_liked (`liked`) / post_unliked, in one round trip: what `liked` and
   * `touched(postId, user)` do in three (the likers set and its expiry, then the fences of
   * the post's counters and of the user's state). An error on the likers set rejects (the
   * event is redelivered); a failed fence is ignored, as `touched` ignores it.
   */
  async likeChanged(postId: bigint, user: bigint, liked: boolean): Promise<void> {
    await this.likesChanged([{ postId, user, liked }]);
  }

  /**
   * Several post_liked / post_unliked (`liked`) as `likeChanged` does each, all in one
   * pipeline (one write, one round trip, one span), in the order given, so a like and an
   * unlike of one pair end as the later says. Rejects with the first error on a likers
   * set (the events are redelivered); failed fences are ignored, as in `likeChanged`.
   */
  async likesChanged(changes: ReadonlyArray<{ readonly postId: bigint; readonly user: bigint; readonly liked: boolean }>): Promise<void> {
    if (changes.length === 0) return;
    const pipe = new Pipeline(this.redis);
    const checked: number[] = [];
    for (const { postId, user, liked } of changes) {
      const key = `rm:likers:${postId}`;
      checked.push(pipe.length, pipe.length + 1);
      if (liked) pipe.batch.sadd(key, String(user));
      else pipe.batch.srem(key, String(user));
      pipe.batch.expire(key, day + setsSlack);
      this.counters.invalidateIn(pipe, [String(postId)]);
      this.states.invalidateIn(pipe, [`${user}:${postId}`]);
    }
    const errors = await pipe.exec();
    for (const i of checked) if (errors[i]) throw errors[i];
  }

  /** A refer-to `referring` of `referred` by `author` was created (`exists`) or deleted. */
  async referred(referred: bigint, author: bigint, referring: bigint, exists: boolean): Promise<void> {
    const key = `rm:ref:${author}:${referred}`;
    const pipe = this.redis.multi();
    if (exists) pipe.sadd(key, String(referring));
    else pipe.srem(key, String(referring));
    await pipe.expire(key, day + setsSlack).exec();
  }

  /** post_deleted: a tombstone (reads drop the post, refer-tos show it as unavailable). */
  async deletePost(postId: bigint): Promise<void> {
    await this.posts.put(new Map([[String(postId), tombstone]]));
  }

  /** account_created / profile_updated. */
  async putProfile(profile: Profile): Promise<void> {
    await this.authors.put(new Map([[String(profile.userId), Buffer.from(toBinary(ProfileSchema, profile))]]));
  }

  /** A like, comment or refer changed `postId`'s counters (and, with `user`, that user's state). */
  async touched(postId: bigint, user?: bigint): Promise<void> {
    await this.counters.invalidate([String(postId)]);
    if (user !== undefined) await this.states.invalidate([`${user}:${postId}`]);
  }

  /**
   * A refer-to of `postId` by `user` was created or deleted: interaction counts it in its
   * own consumer, maybe after this one, so the counter and state are dropped now and again
   * `referRecheckMs` later (best effort: a restart in between leaves `countsTtl`).
   */
  async referTouched(postId: bigint, user: bigint): Promise<void> {
    await this.touched(postId, user);
    for (const ms of referRecheckMs) setTimeout(() => void this.touched(postId, user).catch(() => {}), ms).unref?.();
  }
}
