/**
 * Comments: found in the post's comment list as the reporter sees it (interaction has
 * no get-by-id; the scan stops after 10 pages of 100, enough for any comment a person
 * could have scrolled to). TAKEDOWN is applied by interaction (its moderation consumer
 * hides the comment from ListComments and replies and takes it out of the post's comment
 * count; REVERSE brings it back); reviewers may also WARN the author or act on the
 * account (a USER ticket).
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { Comment } from "#gen/oasis/interaction/v1/interaction_pb.ts";
import { ActionType, SubjectType } from "#gen/oasis/moderation/v1/moderation_pb.ts";
import { languageOf, type ContentAdapter } from "./adapter.ts";

const maxPages = 10;

function find(comments: readonly Comment[], id: bigint): Comment | undefined {
  for (const c of comments) {
    if (c.commentId === id) return c;
    const r = find(c.replies, id);
    if (r) return r;
  }
  return undefined;
}

export const commentAdapter: ContentAdapter = {
  type: SubjectType.COMMENT,
  contentType: "comment",
  owner: "interaction",
  actions: new Set([ActionType.TAKEDOWN]),
  async fetch(ctx, subject) {
    if (subject.parentId <= 0n) return undefined;
    let pageToken = "";
    try {
      for (let page = 0; page < maxPages; page++) {
        const res = await ctx.interaction.listComments({ postId: subject.parentId, pageSize: 100, pageToken });
        const c = find(res.comments, subject.id);
        if (c) return { ownerId: c.authorId, text: c.text, mediaIds: [], language: languageOf(c.text), gone: false };
        if (!res.nextPageToken) return undefined;
        pageToken = res.nextPageToken;
      }
    } catch (err) {
      if (ConnectError.from(err).code === Code.NotFound) return undefined;
      throw err;
    }
    return undefined;
  },
};
