/** Posts: fetched with post.GetPost as the reporter; post takes them down or labels them. */
import { Code, ConnectError } from "@connectrpc/connect";
import { ActionType, SubjectType } from "#gen/oasis/moderation/v1/moderation_pb.ts";
import { languageOf, type ContentAdapter } from "./adapter.ts";

export const postAdapter: ContentAdapter = {
  type: SubjectType.POST,
  contentType: "post",
  owner: "post",
  actions: new Set([ActionType.TAKEDOWN, ActionType.LABEL_SENSITIVE]),
  async fetch(ctx, subject) {
    try {
      const { post } = await ctx.post.getPost({ postId: subject.id });
      if (!post) return undefined;
      return { ownerId: post.authorId, text: post.caption, mediaIds: post.media.map((m) => m.id), language: languageOf(post.caption), gone: false };
    } catch (err) {
      if (ConnectError.from(err).code === Code.NotFound) return undefined;
      throw err;
    }
  },
};
