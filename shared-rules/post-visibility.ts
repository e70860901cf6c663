/**
 * Who may see a post: the one rule shared by the post service (every read it serves) and
 * the feed (which hydrates posts as a service and filters them for the viewer itself,
 * design note 13). It is a declared shared module, not a service's folder: services import
 * it, it imports only generated types and the kit's caller type, never a service.
 */
import type { Caller } from "#kit/call-context.ts";
import { Visibility, type Post } from "#gen/oasis/post/v1/post_pb.ts";

/** What the viewer is to the author, as far as visibility cares. */
export interface ViewerRelation {
  readonly following: boolean;
  readonly followedBy: boolean;
  readonly blocking: boolean;
  readonly blockedBy: boolean;
}

/**
 * Whether `viewer` may see `post`. Services acting for themselves and the author always
 * may; blocks either way hide everything; a private author's public posts are for
 * followers; followers-only and mutual-fans-only mean what they say. Anonymous viewers
 * see public posts of public authors only.
 */
export function canSee(post: Post, viewer: Caller, authorPrivate: boolean, rel: ViewerRelation | undefined): boolean {
  if (viewer.service || viewer.userId === post.authorId) return true;
  if (rel?.blocking || rel?.blockedBy) return false;
  let level = post.visibility === Visibility.UNSPECIFIED ? Visibility.PUBLIC : post.visibility;
  if (level === Visibility.PUBLIC && authorPrivate) level = Visibility.FOLLOWERS;
  if (level === Visibility.PUBLIC) return true;
  if (!rel) return false;
  if (level === Visibility.FOLLOWERS) return rel.following;
  return rel.following && rel.followedBy;
}
