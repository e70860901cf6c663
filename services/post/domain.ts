/**
 * Post rules without SQL or transport: caption length as people count it, hashtags and
 * mentions, and who may see a post.
 */
import type { Caller } from "#kit/call-context.ts";
import { Visibility, type Post } from "#gen/oasis/post/v1/post_pb.ts";

/** Instagram's caption limit, in characters as a person counts them (grapheme clusters). */
export const maxCaptionChars = 2200;
/** Instagram allows 30 hashtags per post; more are ignored. */
export const maxHashtags = 30;
/** Mentions resolved per caption (each is a lookup); more are ignored. */
export const maxMentions = 20;

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** Characters as a person counts them: "👩‍👩‍👧" is one, "春天" is two. */
export function captionLength(caption: string): number {
  let n = 0;
  for (const _ of segmenter.segment(caption)) n++;
  return n;
}

/**
 * Hashtags of a caption: `#` then letters, marks, digits or underscores in any script
 * (so `#春天` and `#café` work), lowercased, deduplicated, in order of first use.
 */
export function parseHashtags(caption: string): string[] {
  const tags: string[] = [];
  for (const m of caption.matchAll(/(?:^|[^\p{L}\p{N}\p{M}_&])#([\p{L}\p{N}\p{M}_]{1,100})/gu)) {
    const tag = m[1]!.toLocaleLowerCase();
    if (!/^\d+$/.test(tag) && !tags.includes(tag)) tags.push(tag);
    if (tags.length === maxHashtags) break;
  }
  return tags;
}

/** @handles of a caption (the handle rule of identity: 3-30 of [a-z0-9_]), lowercased, deduplicated. */
export function parseMentions(caption: string): string[] {
  const handles: string[] = [];
  for (const m of caption.matchAll(/(?:^|[^A-Za-z0-9_@.])@([A-Za-z0-9_]{3,30})(?![A-Za-z0-9_])/g)) {
    const h = m[1]!.toLowerCase();
    if (!handles.includes(h)) handles.push(h);
    if (handles.length === maxMentions) break;
  }
  return handles;
}

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
