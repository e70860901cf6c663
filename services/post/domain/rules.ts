/**
 * Post rules without SQL or transport: caption length as people count it, hashtags and
 * mentions, and who may see a post.
 */
import type { Caller } from "#kit/call-context.ts";
import { graphemeLength, parseHashtags, parseMentions } from "#kit/text.ts";
import type { Post } from "#gen/oasis/post/v1/post_pb.ts";

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

// Who may see a post is a rule the feed applies too: it lives in one declared shared module.
export { canSee, type ViewerRelation } from "../../../shared-rules/post-visibility.ts";
