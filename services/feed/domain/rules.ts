/**
 * The feed's page rules, pure (no I/O): given what hydration found for a batch of post
 * ids, which posts the viewer may see and how each is shown. The feed's own read path
 * (views.ts) and the edge's page path (page-path/) both decide with these, so a page
 * served either way is the same page.
 */
import { create } from "@bufbuild/protobuf";
import type { Caller } from "#kit/call-context.ts";
import { PostViewSchema, ReferredPostSchema, type PostView } from "#gen/oasis/feed/v1/feed_pb.ts";
import type { Relationship } from "#gen/oasis/graph/v1/graph_pb.ts";
import type { Profile } from "#gen/oasis/identity/v1/profile_pb.ts";
import type { PostCounts, ViewerState } from "#gen/oasis/interaction/v1/interaction_pb.ts";
import type { Post } from "#gen/oasis/post/v1/post_pb.ts";
import { canSee } from "../../../shared-rules/post-visibility.ts";

/** What a page's posts need, each map keyed by post or user id. */
export interface Hydrated {
  /** Live posts in skeleton order (deleted and unknown ones already left out). */
  readonly posts: readonly Post[];
  readonly referred: ReadonlyMap<bigint, Post>;
  /** Profiles the viewer may read (a missing one counts as private). */
  readonly authors: ReadonlyMap<bigint, Profile>;
  /** The viewer's relationship to each author (none for anonymous viewers). */
  readonly relationships: ReadonlyMap<bigint, Relationship>;
  readonly counts: ReadonlyMap<bigint, PostCounts>;
  readonly states: ReadonlyMap<bigint, ViewerState>;
}

/**
 * Feed rules: what the post service would let the viewer see (an author without a
 * profile counts as private, as there), minus posts of authors the viewer mutes.
 */
export function allowed(h: Hydrated, post: Post, viewer: Caller): boolean {
  // Taken down by moderation, or its author suspended: gone for everyone, its author
  // included (post's rule too).
  if (post.takenDown || post.authorSuspended) return false;
  if (post.authorId === viewer.userId) return true;
  const rel = h.relationships.get(post.authorId);
  if (rel?.muting) return false;
  return canSee(post, viewer, h.authors.get(post.authorId)?.private ?? true, rel);
}

/**
 * PostViews of `h.posts` (in order) the viewer may see: a referred post that is gone or
 * hidden is shown as unavailable, never as an error; counters default to zero.
 */
export function present(h: Hydrated, viewer: Caller): PostView[] {
  const out: PostView[] = [];
  for (const post of h.posts) {
    if (!allowed(h, post, viewer)) continue;
    let refer;
    if (post.referPostId !== 0n) {
      const r = h.referred.get(post.referPostId);
      const ok = r && allowed(h, r, viewer);
      refer = create(ReferredPostSchema, ok ? { available: true, post: r, author: h.authors.get(r.authorId) } : { available: false });
    }
    out.push(
      create(PostViewSchema, {
        post,
        author: h.authors.get(post.authorId),
        counts: h.counts.get(post.postId) ?? { postId: post.postId },
        viewer: h.states.get(post.postId),
        relationship: h.relationships.get(post.authorId),
        refer,
      }),
    );
  }
  return out;
}
