/**
 * From post ids to PostViews, in bsky AppView's steps, each one batch call per source:
 * 1. hydrate: from the feed's read model (read-model.ts; only the viewer's relationships
 *    are a call, to graph) or, with OASIS_FEED_READ_MODEL=0, from the services:
 *    posts (read as the feed itself, deleted ones already dropped), then in
 *    parallel the referred posts, counters and the viewer's state, then the author
 *    profiles and the viewer's relationships to the authors;
 * 2. rules (rules.ts): visibility (the post service's own rule,
 *    shared-rules/post-visibility.ts canSee, fed with the profiles' private flag and the relationships hydration fetched anyway:
 *    asking the post service to filter as the viewer made it fetch the same
 *    relationships again, one more graph call per page), then the viewer's mutes;
 * 3. present: PostView in skeleton order, a referred post that is gone or hidden shown as
 *    unavailable, never as an error.
 * No step calls a service per post.
 */
import type { Caller } from "#kit/call-context.ts";
import type { PostView } from "#gen/oasis/feed/v1/feed_pb.ts";
import { asService, optionalCall } from "#kit/client.ts";
import type { FeedContext } from "../context.ts";
import { present, type Hydrated } from "./rules.ts";

/**
 * Hydration from the feed's read model (read-model.ts): posts, then referred posts,
 * counters and viewer state, then authors, each one Redis pipeline (loading only what
 * is missing from its source); the relationships are the one call, to graph, in
 * parallel with the authors, because a mute or block must hide posts at once (and are
 * kept as `rm:rel` in passing, for the edge's page path).
 */
async function hydrateFromReadModel(ctx: FeedContext, viewer: Caller, ids: readonly bigint[]): Promise<Hydrated> {
  const rm = ctx.readModel;
  const posts = await rm.getPosts(ctx, ids);
  const referIds = [...new Set(posts.map((p) => p.referPostId).filter((id) => id !== 0n))];
  const postIds = posts.map((p) => p.postId);
  const [referredList, countsList, statesList] = await Promise.all([rm.getPosts(ctx, referIds), rm.getCounts(ctx, postIds), rm.getStates(ctx, viewer, postIds)]);
  const authorIds = [...new Set([...posts, ...referredList].map((p) => p.authorId))];
  const [profiles, rels] = await Promise.all([
    rm.getProfiles(ctx, authorIds),
    viewer.userId !== null ? rm.getRelationships(ctx, viewer.userId, authorIds) : [],
  ]);
  // Identity hides private profiles from anonymous callers (canReadProfile); so does this.
  const readable = profiles.filter((p) => !p.private || viewer.userId !== null || viewer.service);
  return {
    posts,
    referred: new Map(referredList.map((p) => [p.postId, p])),
    authors: new Map(readable.map((p) => [p.userId, p])),
    relationships: new Map(rels.map((r) => [r.userId, r])),
    counts: new Map(countsList.map((c) => [c.postId, c])),
    states: new Map(statesList.map((s) => [s.postId, s])),
  };
}

/** Hydration from the services, each one batch call (OASIS_FEED_READ_MODEL=0). */
async function hydrateFromServices(ctx: FeedContext, viewer: Caller, ids: readonly bigint[]): Promise<Hydrated> {
  const self = asService();
  const posts = ids.length ? (await ctx.post.batchGetPosts({ postIds: [...ids] }, self)).posts : [];
  const referIds = [...new Set(posts.map((p) => p.referPostId).filter((id) => id !== 0n))];
  const postIds = posts.map((p) => p.postId);
  const [referredList, countsList, statesList] = await Promise.all([
    referIds.length ? ctx.post.batchGetPosts({ postIds: referIds }, self).then((r) => r.posts) : [],
    postIds.length ? optionalCall(ctx.interaction?.batchGetCounts({ postIds }).then((r) => r.counts), []) : [],
    postIds.length && viewer.userId !== null ? optionalCall(ctx.interaction?.batchGetViewerState({ postIds }).then((r) => r.states), []) : [],
  ]);
  const authorIds = [...new Set([...posts, ...referredList].map((p) => p.authorId))];
  const [profiles, rels] = await Promise.all([
    authorIds.length ? ctx.identity.batchGetProfiles({ userIds: authorIds }).then((r) => r.profiles) : [],
    authorIds.length && viewer.userId !== null ? ctx.graph.batchGetRelationships({ userIds: authorIds }).then((r) => r.relationships) : [],
  ]);
  return {
    posts,
    referred: new Map(referredList.map((p) => [p.postId, p])),
    authors: new Map(profiles.map((p) => [p.userId, p])),
    relationships: new Map(rels.map((r) => [r.userId, r])),
    counts: new Map(countsList.map((c) => [c.postId, c])),
    states: new Map(statesList.map((s) => [s.postId, s])),
  };
}

/** PostViews for `ids` (in order), dropping what the viewer may not or should not see. */
export async function views(ctx: FeedContext, viewer: Caller, ids: readonly bigint[]): Promise<PostView[]> {
  const h = ctx.rt.config.readModel ? await hydrateFromReadModel(ctx, viewer, ids) : await hydrateFromServices(ctx, viewer, ids);
  return present(h, viewer);
}
