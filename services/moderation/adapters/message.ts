/**
 * Chat messages: found in the convo as the reporter (a member) sees it, newest first,
 * up to 5 pages of 200. Only a member can report one, and the report shares the text
 * with reviewers (CreateReport says so). Messages are private: reviewers can WARN the
 * sender or suspend the account (a USER ticket), not take a message down.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { SubjectType } from "#gen/oasis/moderation/v1/moderation_pb.ts";
import { languageOf, type ContentAdapter } from "./adapter.ts";

const maxPages = 5;

export const messageAdapter: ContentAdapter = {
  type: SubjectType.MESSAGE,
  contentType: "message",
  owner: "chat",
  actions: new Set(),
  async fetch(ctx, subject) {
    if (subject.parentId <= 0n) return undefined;
    let pageToken = "";
    try {
      for (let page = 0; page < maxPages; page++) {
        const res = await ctx.chat().listMessages({ convoId: subject.parentId, pageSize: 200, pageToken });
        const m = res.messages.find((x) => x.messageId === subject.id);
        if (m) return { ownerId: m.senderId, text: m.text, mediaIds: m.media.map((i) => i.mediaId), language: languageOf(m.text), gone: false };
        if (!res.nextPageToken || res.messages.some((x) => x.messageId < subject.id)) return undefined;
        pageToken = res.nextPageToken;
      }
    } catch (err) {
      if (ConnectError.from(err).code === Code.NotFound) return undefined;
      throw err;
    }
    return undefined;
  },
};
