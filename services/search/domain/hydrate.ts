/**
 * From engine ids to results for the viewer, in bsky AppView's steps, one batch call per
 * source and never one per item:
 * 1. hydrate: posts through post's BatchGetPosts as the viewer, so the post service
 *    applies its own visibility rule (followers-only, private authors, blocks, deleted);
 *    then the authors' profiles, the viewer's relationships, counters and viewer state;
 * 2. rules: drop authors the viewer mutes or blocks (search shows nothing from them);
 * 3. present: PostView / UserResult in the engine's order.
 */
import { create } from "@bufbuild/protobuf";
import { optionalCall } from "#kit/client.ts";
import { PostViewSchema, ReferredPostSchema, type PostView } from "#gen/oasis/feed/v1/feed_pb.ts";
import { UserResultSchema, type UserResult } from "#gen/oasis/search/v1/search_pb.ts";
import type { SearchContext } from "../context.ts";


/** PostViews of `ids` (in order) that `viewer` may see and has not muted or blocked. */
export async function postViews(ctx: SearchContext, viewer: bigint | null, ids: readonly bigint[]): Promise<PostView[]> {
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

/** UserResults of `ids` (in order) with the viewer's relationship; users blocking or blocked by the viewer are dropped. */
export async function userResults(ctx: SearchContext, viewer: bigint | null, ids: readonly bigint[]): Promise<UserResult[]> {
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
