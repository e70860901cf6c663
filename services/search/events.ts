/**
 * Indexing from events: identity's account_created/profile_updated and post's
 * post_created/updated/deleted. Each write is versioned by the source (domain/engine.ts),
 * so a redelivered or reordered event changes nothing twice: exactly-once effect without
 * a dedup table. The message is acknowledged after the engine committed it.
 *
 * While `reindex` builds a new generation (its name in Redis key `rebuild`), every event
 * is also applied there, so nothing that happens during the rebuild is missing after the
 * swap. Blocks, mutes, follows and private accounts are not indexed: hydration applies
 * them at query time.
 *
 * The same events keep the results read model (read-model.ts): the post or profile
 * snapshot is written (compare-and-set on its version, so also exactly-once in effect)
 * before the engine, so a result the engine returns has its snapshot ready. When the
 * mesh has interaction, its events drop cached counters and viewer state.
 *
 * After its writes each handler bumps the request cache's generations (request-cache.ts:
 * `search:views` after a read-model change, `search:writes` after an index write), so
 * cached results computed before the event are not served after it (within the cache's
 * refresh interval on other replicas, at once on this one). A redelivered event bumps
 * again: harmless, one more miss. A new post that refers to no other post changes only
 * the results of queries it matches, so with OASIS_SEARCH_QUERY_INVALIDATION (on by
 * default; embedded engine only) it bumps only the counters of the live queries it may match
 * (domain/query-match.ts; design note 32); edits, deletes and refer-tos still end every
 * page (a post also shows inside the posts that refer to it, whatever they match).
 */
import { on } from "#kit/consumer.ts";
import { AccountCreatedSchema, ProfileUpdatedSchema } from "#gen/oasis/identity/v1/events_pb.ts";
import { CommentCreatedSchema, CommentDeletedSchema, PostLikedSchema, PostUnlikedSchema } from "#gen/oasis/interaction/v1/events_pb.ts";
import { PostCreatedSchema, PostDeletedSchema, PostUpdatedSchema } from "#gen/oasis/post/v1/events_pb.ts";
import type { SearchContext } from "./context.ts";
import type { IndexWriter, Rebuild } from "./domain/engine.ts";
import { postDoc, userDoc } from "./domain/docs.ts";
import { couldMatch, postTerms } from "./domain/query-match.ts";
import type { Post } from "#gen/oasis/post/v1/post_pb.ts";
import { queryOfKey } from "./routes/cached.ts";

/** Redis key naming the generation a reindex is building (absent otherwise). */
export const rebuildKey = "rebuild";

/** The engine, plus the generation under construction if a reindex runs. */
export function writers(ctx: SearchContext) {
  let building: { generation: string; rebuild: Rebuild } | undefined;
  async function targets(): Promise<IndexWriter[]> {
    const generation = await ctx.rt.redis.get(rebuildKey);
    if (building && building.generation !== generation) {
      // The rebuild committed (or was abandoned): write where CURRENT now points.
      await building.rebuild.release();
      building = undefined;
      ctx.engine.follow();
    }
    if (generation && !building) building = { generation, rebuild: await ctx.engine.rebuild(generation) };
    return building ? [ctx.engine, building.rebuild] : [ctx.engine];
  }
  return {
    async apply(fn: (w: IndexWriter) => Promise<unknown>): Promise<void> {
      for (const w of await targets()) await fn(w);
    },
  };
}

/** After an event changed both the read model and the index. */
async function bumpBoth(ctx: SearchContext): Promise<void> {
  await ctx.cache.bumpViews();
  await ctx.cache.bumpWrites();
}

/** After a new post: the queries it may match (per-query invalidation), or every page. */
async function bumpForNewPost(ctx: SearchContext, post: Post): Promise<void> {
  if (!ctx.rt.config.queryInvalidation || ctx.rt.config.meiliUrl || post.referPostId !== 0n) return bumpBoth(ctx);
  const terms = postTerms(post.caption, post.hashtags);
  await ctx.cache.bumpQueries((member) => {
    const query = queryOfKey(member);
    return query === undefined || couldMatch(query, terms);
  });
}

export function identityConsumer(ctx: SearchContext, w = writers(ctx)) {
  return {
    name: "search-users",
    handlers: [
      on(AccountCreatedSchema, async (e) => {
        await ctx.readModel.putProfiles([e.profile!]);
        await w.apply((x) => x.upsertUser(userDoc(e.profile!)));
        await bumpBoth(ctx);
      }),
      on(ProfileUpdatedSchema, async (e) => {
        await ctx.readModel.putProfiles([e.profile!]);
        await w.apply((x) => x.upsertUser(userDoc(e.profile!)));
        await bumpBoth(ctx);
      }),
    ],
  };
}

export function postConsumer(ctx: SearchContext, w = writers(ctx)) {
  return {
    name: "search-posts",
    handlers: [
      on(PostCreatedSchema, async (e) => {
        await ctx.readModel.putPosts([e.post!]);
        await w.apply((x) => x.upsertPost(postDoc(e.post!)));
        // A refer-to changes the referred post's refer count and its author's state.
        if (e.post!.referPostId !== 0n) await ctx.readModel.touched(e.post!.referPostId, e.post!.authorId);
        await bumpForNewPost(ctx, e.post!);
      }),
      on(PostUpdatedSchema, async (e) => {
        await ctx.readModel.putPosts([e.post!]);
        await w.apply((x) => x.upsertPost(postDoc(e.post!)));
        await bumpBoth(ctx);
      }),
      on(PostDeletedSchema, async (e) => {
        await ctx.readModel.deletePost(e.postId);
        await w.apply((x) => x.deletePost(e.postId));
        if (e.referPostId !== 0n) await ctx.readModel.touched(e.referPostId, e.authorId);
        await bumpBoth(ctx);
      }),
    ],
  };
}

/**
 * Interaction's events drop the read model's cached counters and the actor's viewer
 * state (the next search reloads them) and bump `search:views` (cached results carry
 * counters); only when the mesh has interaction. Dropping a key twice changes nothing:
 * redelivery is harmless.
 */
export function interactionConsumer(ctx: SearchContext) {
  const rm = ctx.readModel;
  const touched = async (postId: bigint, user?: bigint) => {
    await rm.touched(postId, user);
    await ctx.cache.bumpViews();
  };
  return {
    name: "search-read-model-interaction",
    handlers: [
      on(PostLikedSchema, (e) => touched(e.postId, e.userId)),
      on(PostUnlikedSchema, (e) => touched(e.postId, e.userId)),
      on(CommentCreatedSchema, (e) => touched(e.comment!.postId)),
      on(CommentDeletedSchema, (e) => touched(e.postId)),
    ] as never,
  };
}
