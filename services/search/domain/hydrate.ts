/**
 * From engine ids to results for the viewer, in bsky AppView's steps, one batch per
 * source and never one call per item:
 * 1. hydrate: from search's read model (read-model.ts: post and profile snapshots,
 *    counters and viewer state, Redis pipelines); the viewer's relationships to the
 *    authors are the one call, to graph, and only for a signed-in viewer, because a block
 *    or mute must hide posts at once. With OASIS_SEARCH_READ_MODEL=0, from the services
 *    instead (post's BatchGetPosts as the viewer, then identity, graph, interaction).
 * 2. rules: the post service's own visibility rule (shared-rules/post-visibility.ts
 *    canSee: followers-only, private authors, blocks) and identity's profile rule
 *    (shared-rules/profile-visibility.ts), then authors the viewer mutes or blocks are
 *    dropped (search shows nothing from them). Deleted posts are tombstones in the read
 *    model and gone from the engine; hidden (taken-down) posts never leave the engine.
 * 3. present: PostView / UserResult in the engine's order.
 */
import { create } from "@bufbuild/protobuf";
import { optionalCall } from "#kit/client.ts";
import type { Caller } from "#kit/call-context.ts";
import { PostViewSchema, ReferredPostSchema, type PostView } from "#gen/oasis/feed/v1/feed_pb.ts";
import type { Relationship } from "#gen/oasis/graph/v1/graph_pb.ts";
import type { Profile } from "#gen/oasis/identity/v1/profile_pb.ts";
import type { PostCounts } from "#gen/oasis/interaction/v1/interaction_pb.ts";
import type { Post } from "#gen/oasis/post/v1/post_pb.ts";
import { UserResultSchema, type UserResult } from "#gen/oasis/search/v1/search_pb.ts";
import { canSee } from "../../../shared-rules/post-visibility.ts";
import { canReadProfile, needsRelation, presentProfile } from "../../../shared-rules/profile-visibility.ts";
import type { SearchContext } from "../context.ts";

const stranger = { following: false, followedBy: false, blocking: false, blockedBy: false };

/** The viewer's relationships to `ids` (the viewer left out), one graph call; none for anonymous callers. */
async function relationships(ctx: SearchContext, viewer: Caller, ids: Iterable<bigint>): Promise<Map<bigint, Relationship>> {
  const others = [...new Set(ids)].filter((id) => id !== viewer.userId);
  if (viewer.userId === null || viewer.service || !others.length) return new Map();
  const rels = (await ctx.graph.batchGetRelationships({ userIds: others })).relationships;
  return new Map(rels.map((r) => [r.userId, r]));
}

/**
 * What a page of posts needs before any viewer's rules, from the read model: the live
 * posts of the ids, the posts they refer to, the authors of both and the counters. It
 * depends on no viewer, so the request cache (request-cache.ts) may share it between
 * viewers; nothing in it may be changed by a reader.
 */
export interface LoadedPosts {
  readonly posts: ReadonlyMap<bigint, Post>;
  readonly referred: ReadonlyMap<bigint, Post>;
  readonly authors: ReadonlyMap<bigint, Profile>;
  readonly counts: ReadonlyMap<bigint, PostCounts>;
}

/** Loads `ids` (step 1 without the viewer's part): two Lua calls and the counters, in parallel where they can be. */
export async function loadPosts(ctx: SearchContext, ids: readonly bigint[]): Promise<LoadedPosts> {
  const rm = ctx.readModel;
  const { posts, authors } = await rm.getPostsWithAuthors(ctx, ids);
  const live = [...posts.values()];
  const referIds = [...new Set(live.map((p) => p.referPostId).filter((id) => id !== 0n))];
  const [refs, counts] = await Promise.all([rm.getPostsWithAuthors(ctx, referIds), rm.getCounts(ctx, live.map((p) => p.postId))]);
  for (const [id, p] of refs.authors) authors.set(id, p);
  return { posts, referred: refs.posts, authors, counts };
}

/**
 * PostViews of `ids` (in order) that `viewer` may see and has not muted or blocked, from
 * `loaded` (steps 1, the viewer's state and relationships, 2 and 3). Reads `loaded`, never
 * changes it.
 */
export async function presentPosts(ctx: SearchContext, viewer: Caller, loaded: LoadedPosts, ids: readonly bigint[]): Promise<PostView[]> {
  const { posts, referred, authors, counts } = loaded;
  const me = viewer.userId;
  const live = [...posts.values()];
  const [states, rels] = await Promise.all([
    ctx.readModel.getStates(ctx, me, live.map((p) => p.postId)),
    relationships(ctx, viewer, live.map((p) => p.authorId)),
  ]);
  const more = [...referred.values()].map((p) => p.authorId).filter((a) => a !== me && !rels.has(a));
  if (more.length) for (const [k, v] of await relationships(ctx, viewer, more)) rels.set(k, v);
  const allowed = (post: Post) => {
    // Taken down by moderation, or its author suspended (post_updated carries the flags
    // into the read model): gone for everyone, a refer-to of it shows as unavailable, as
    // in the feed.
    if (post.takenDown || post.authorSuspended) return false;
    if (post.authorId === me) return true;
    const rel = rels.get(post.authorId);
    if (rel?.muting) return false;
    return canSee(post, viewer, authors.get(post.authorId)?.private ?? true, rel ?? (me !== null ? stranger : undefined));
  };
  const author = (id: bigint) => {
    const p = authors.get(id);
    if (!p || !canReadProfile(p, viewer)) return undefined;
    return needsRelation(p, viewer) ? presentProfile(p, rels.get(id) ?? stranger) : p;
  };
  const out: PostView[] = [];
  for (const id of ids) {
    const post = posts.get(id);
    if (!post || !allowed(post)) continue;
    let refer;
    if (post.referPostId !== 0n) {
      const r = referred.get(post.referPostId);
      const ok = r && allowed(r);
      refer = create(ReferredPostSchema, ok ? { available: true, post: r, author: author(r.authorId) } : { available: false });
    }
    out.push(
      create(PostViewSchema, {
        post,
        author: author(post.authorId),
        counts: counts.get(post.postId) ?? { postId: post.postId },
        viewer: states.get(post.postId),
        relationship: rels.get(post.authorId),
        refer,
      }),
    );
  }
  return out;
}

/** PostViews of `ids` (in order) that `viewer` may see and has not muted or blocked, from the read model. */
export async function postViewsFromReadModel(ctx: SearchContext, viewer: Caller, ids: readonly bigint[]): Promise<PostView[]> {
  if (!ids.length) return [];
  return presentPosts(ctx, viewer, await loadPosts(ctx, ids), ids);
}

/** Profiles of `ids` from the read model: what user results need before the viewer's rules (shareable, read-only). */
export function loadUsers(ctx: SearchContext, ids: readonly bigint[]): Promise<ReadonlyMap<bigint, Profile>> {
  return ctx.readModel.getProfiles(ctx, ids);
}

/** UserResults of `ids` (in order) as identity would show them to `viewer`, from `profiles`; blocked either way dropped. */
export async function presentUsers(ctx: SearchContext, viewer: Caller, profiles: ReadonlyMap<bigint, Profile>, ids: readonly bigint[]): Promise<UserResult[]> {
  const rels = await relationships(ctx, viewer, ids);
  const out: UserResult[] = [];
  for (const id of ids) {
    const p = profiles.get(id);
    if (!p || !canReadProfile(p, viewer)) continue;
    const rel = rels.get(id);
    if (rel?.blocking || rel?.blockedBy) continue;
    const profile = needsRelation(p, viewer) ? presentProfile(p, rel ?? stranger) : p;
    if (profile) out.push(create(UserResultSchema, { profile, relationship: rel }));
  }
  return out;
}

/** UserResults of `ids` (in order) as identity would show them to `viewer`, from the read model; blocked either way dropped. */
export async function userResultsFromReadModel(ctx: SearchContext, viewer: Caller, ids: readonly bigint[]): Promise<UserResult[]> {
  if (!ids.length) return [];
  return presentUsers(ctx, viewer, await loadUsers(ctx, ids), ids);
}

/** Results for `viewer`: from the read model (default) or from the services (OASIS_SEARCH_READ_MODEL=0). */
export function postViews(ctx: SearchContext, viewer: Caller, ids: readonly bigint[]): Promise<PostView[]> {
  return ctx.rt.config.readModel ? postViewsFromReadModel(ctx, viewer, ids) : postViewsFromServices(ctx, viewer.userId, ids);
}

/** Users for `viewer`: from the read model (default) or from the services (OASIS_SEARCH_READ_MODEL=0). */
export function userResults(ctx: SearchContext, viewer: Caller, ids: readonly bigint[]): Promise<UserResult[]> {
  return ctx.rt.config.readModel ? userResultsFromReadModel(ctx, viewer, ids) : userResultsFromServices(ctx, viewer.userId, ids);
}

/** PostViews from the services, each one batch call (the hydration before the read model). */
async function postViewsFromServices(ctx: SearchContext, viewer: bigint | null, ids: readonly bigint[]): Promise<PostView[]> {
  if (!ids.length) return [];
  const posts = (await ctx.post.batchGetPosts({ postIds: [...ids] })).posts;
  const byId = new Map(posts.map((p) => [p.postId, p]));
  const referIds = [...new Set(posts.map((p) => p.referPostId).filter((id) => id !== 0n))];
  const postIds = posts.map((p) => p.postId);
  const [referred, counts, states] = await Promise.all([
    referIds.length ? ctx.post.batchGetPosts({ postIds: referIds }).then((r) => r.posts) : [],
    postIds.length ? optionalCall(ctx.interaction?.batchGetCounts({ postIds }).then((r) => r.counts), []) : [],
    postIds.length && viewer !== null ? optionalCall(ctx.interaction?.batchGetViewerState({ postIds }).then((r) => r.states), []) : [],
  ]);
  const authorIds = [...new Set([...posts, ...referred].map((p) => p.authorId))];
  const [profiles, rels] = await Promise.all([
    authorIds.length ? ctx.identity.batchGetProfiles({ userIds: authorIds }).then((r) => r.profiles) : [],
    authorIds.length && viewer !== null ? ctx.graph.batchGetRelationships({ userIds: authorIds }).then((r) => r.relationships) : [],
  ]);
  const authors = new Map(profiles.map((p) => [p.userId, p]));
  const relOf = new Map(rels.map((r) => [r.userId, r]));
  const referredById = new Map(referred.map((p) => [p.postId, p]));
  const countOf = new Map(counts.map((c) => [c.postId, c]));
  const stateOf = new Map(states.map((s) => [s.postId, s]));
  const shunned = (author: bigint) => {
    const r = relOf.get(author);
    return author !== viewer && !!(r?.muting || r?.blocking || r?.blockedBy);
  };
  const out: PostView[] = [];
  for (const id of ids) {
    const post = byId.get(id);
    if (!post || shunned(post.authorId)) continue;
    let refer;
    if (post.referPostId !== 0n) {
      const r = referredById.get(post.referPostId);
      const ok = r && !shunned(r.authorId);
      refer = create(ReferredPostSchema, ok ? { available: true, post: r, author: authors.get(r.authorId) } : { available: false });
    }
    out.push(
      create(PostViewSchema, {
        post,
        author: authors.get(post.authorId),
        counts: countOf.get(post.postId) ?? { postId: post.postId },
        viewer: stateOf.get(post.postId),
        relationship: relOf.get(post.authorId),
        refer,
      }),
    );
  }
  return out;
}

/** UserResults from the services (identity as the viewer, graph). */
async function userResultsFromServices(ctx: SearchContext, viewer: bigint | null, ids: readonly bigint[]): Promise<UserResult[]> {
  if (!ids.length) return [];
  const others = ids.filter((id) => id !== viewer);
  const [profiles, rels] = await Promise.all([
    ctx.identity.batchGetProfiles({ userIds: [...ids] }).then((r) => r.profiles),
    viewer !== null && others.length ? ctx.graph.batchGetRelationships({ userIds: others }).then((r) => r.relationships) : [],
  ]);
  const byId = new Map(profiles.map((p) => [p.userId, p]));
  const relOf = new Map(rels.map((r) => [r.userId, r]));
  const out: UserResult[] = [];
  for (const id of ids) {
    const profile = byId.get(id);
    const rel = relOf.get(id);
    if (!profile || rel?.blocking || rel?.blockedBy) continue;
    out.push(create(UserResultSchema, { profile, relationship: rel }));
  }
  return out;
}
