/**
 * Post rules without SQL or transport: caption length as people count it, hashtags and
 * mentions, and who may see a post.
 */
import type { Caller } from "#kit/call-context.ts";
import { graphemeLength, parseHashtags, parseMentions } from "#kit/text.ts";
import { Visibility, type Post } from "#gen/oasis/post/v1/post_pb.ts";

/** Instagram's caption limit, in characters as a person counts them (grapheme clusters). */
export const maxCaptionChars = 2200;
/** Instagram allows 30 hashtags per post; more are ignored. */
export const maxHashtags = 30;
/** Mentions resolved per caption (each is a lookup); more are ignored. */
export const maxMentions = 20;

/** Characters as a person counts them (grapheme clusters). */
export const captionLength = graphemeLength;

/** Hashtags of a caption (kit/text.ts rules), at most `maxHashtags`. */
export const parseCaptionHashtags = (caption: string): string[] => parseHashtags(caption, maxHashtags);

/** @handles of a caption (kit/text.ts rules), at most `maxMentions`. */
export const parseCaptionMentions = (caption: string): string[] => parseMentions(caption, maxMentions);

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
