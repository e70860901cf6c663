/**
 * The feed's read model: what a page needs, in the feed's own Redis, so a home or user
 * timeline read is Redis plus one graph call (the viewer's relationships, which a mute or
 * block must change at once) instead of a call to post, identity and interaction each.
 *
 * Four versioned caches (kit/cache.ts: a read that missed stores what it loaded only if
 * no event wrote the key meanwhile):
 * - `rm:post:<id>`    a post as PostService.BatchGetPosts returns it to a service (media and
 *                     refer_post_id included), or a tombstone once deleted; written by
 *                     post_created / post_updated / post_deleted.
 * - `rm:author:<id>`  the author's profile; written by account_created / profile_updated.
 * - `rm:counts:<id>`  the post's counters; a new post starts at zero (post_created), likes
 *                     and comments drop it (post_liked, post_unliked, comment_created,
 *                     comment_deleted) so the next read loads the new numbers.
 * - `rm:state:<viewer>:<id>` what the viewer did to the post (liked, referred); dropped by
 *                     the viewer's post_liked / post_unliked and their refer-tos.
 *
 * Repair: every key is also loaded from its source on a miss (BatchGetPosts,
 * BatchGetProfiles, BatchGetCounts, BatchGetViewerState) and stored, so a read model that
 * lost keys (Redis flushed, events missed before the feed existed) rebuilds itself on
 * the next reads; keys expire (posts and profiles after a day, counters and viewer state
 * after `countsTtl`), which bounds how long a missed event can leave a key stale. A refer
 * count is added by interaction's own consumer of post_created, which may run after the
 * feed dropped the counter: such a count is at most `countsTtl` late.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { asService } from "#kit/client.ts";
import { VersionedCache } from "#kit/cache.ts";
import type { Caller } from "#kit/call-context.ts";
import type { Redis } from "#kit/redis.ts";
import { ProfileSchema, type Profile } from "#gen/oasis/identity/v1/profile_pb.ts";
import { PostCountsSchema, ViewerStateSchema, type PostCounts, type ViewerState } from "#gen/oasis/interaction/v1/interaction_pb.ts";
import { PostSchema, type Post } from "#gen/oasis/post/v1/post_pb.ts";
import type { FeedContext } from "./context.ts";

const day = 86_400;
/** Seconds counters and viewer state stay cached without an event (the staleness bound). */
export const countsTtl = 300;
const tombstone = Buffer.from([1]);
const live = (post: Post) => Buffer.concat([Buffer.from([0]), Buffer.from(toBinary(PostSchema, post))]);

/** Interaction may be absent or restarting: feeds still render, without counts. */
async function optional<T>(p: Promise<T> | undefined, empty: T): Promise<T> {
  if (!p) return empty;
  try {
    return await p;
  } catch (err) {
    const code = ConnectError.from(err).code;
    if (code === Code.Unavailable || code === Code.Unimplemented || code === Code.DeadlineExceeded) return empty;
    throw err;
  }
}

export class ReadModel {
  private readonly posts: VersionedCache;
  private readonly authors: VersionedCache;
  private readonly counters: VersionedCache;
  private readonly states: VersionedCache;

  constructor(redis: Redis) {
    this.posts = new VersionedCache(redis, "rm:post", day);
    this.authors = new VersionedCache(redis, "rm:author", day);
    this.counters = new VersionedCache(redis, "rm:counts", countsTtl);
    this.states = new VersionedCache(redis, "rm:state", countsTtl);
  }

  /** Live posts among `ids`, in order (deleted and unknown ones left out). */
  async getPosts(ctx: FeedContext, ids: readonly bigint[]): Promise<Post[]> {
    if (ids.length === 0) return [];
    const got = await this.posts.getMany(ids.map(String), async (missing) => {
      const found = (await ctx.post.batchGetPosts({ postIds: missing.map(BigInt) }, asService(ctx.rt.config.meshSecret))).posts;
      const out = new Map(found.map((p) => [String(p.postId), live(p)]));
      // Asked as a service, only deleted or unknown posts are left out: remember that.
      for (const k of missing) if (!out.has(k)) out.set(k, tombstone);
      return out;
    });
    const out: Post[] = [];
    for (const id of ids) {
      const v = got.get(String(id));
      if (v && v[0] === 0) out.push(fromBinary(PostSchema, v.subarray(1)));
    }
    return out;
  }

  /** Profiles of `ids` that exist. */
  async getProfiles(ctx: FeedContext, ids: readonly bigint[]): Promise<Profile[]> {
    if (ids.length === 0) return [];
    const got = await this.authors.getMany(ids.map(String), async (missing) => {
      const found = (await ctx.identity.batchGetProfiles({ userIds: missing.map(BigInt) }, asService(ctx.rt.config.meshSecret))).profiles;
      return new Map(found.map((p) => [String(p.userId), Buffer.from(toBinary(ProfileSchema, p))]));
    });
    return [...got.values()].map((v) => fromBinary(ProfileSchema, v));
  }

  /** Counters of `ids` (empty when interaction is absent or down; nothing cached then). */
  async getCounts(ctx: FeedContext, ids: readonly bigint[]): Promise<PostCounts[]> {
    if (ids.length === 0 || !ctx.interaction) return [];
    const got = await this.counters.getMany(ids.map(String), async (missing) => {
      const found = await optional(ctx.interaction?.batchGetCounts({ postIds: missing.map(BigInt) }).then((r) => r.counts), []);
      return new Map(found.map((c) => [String(c.postId), Buffer.from(toBinary(PostCountsSchema, c))]));
    });
    return [...got.values()].map((v) => fromBinary(PostCountsSchema, v));
  }

  /** What `viewer` did to each of `ids` (asked as the viewer: the current call's caller). */
  async getStates(ctx: FeedContext, viewer: Caller, ids: readonly bigint[]): Promise<ViewerState[]> {
    if (ids.length === 0 || !ctx.interaction || viewer.userId === null) return [];
    const key = (id: bigint | string) => `${viewer.userId}:${id}`;
    const got = await this.states.getMany(ids.map(key), async (missing) => {
      const postIds = missing.map((k) => BigInt(k.slice(k.indexOf(":") + 1)));
      const found = await optional(ctx.interaction?.batchGetViewerState({ postIds }).then((r) => r.states), []);
      return new Map(found.map((s) => [key(s.postId), Buffer.from(toBinary(ViewerStateSchema, s))]));
    });
    return [...got.values()].map((v) => fromBinary(ViewerStateSchema, v));
  }

  /** post_created / post_updated: the post as it now is; a new post's counters start at zero. */
  async putPost(post: Post, isNew: boolean): Promise<void> {
    await this.posts.put(new Map([[String(post.postId), live(post)]]));
    if (isNew) await this.counters.put(new Map([[String(post.postId), Buffer.from(toBinary(PostCountsSchema, create(PostCountsSchema, { postId: post.postId })))]]));
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
}
