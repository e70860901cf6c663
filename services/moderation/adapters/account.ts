/** Accounts: the profile as the reporter sees it; identity suspends them. */
import { Code, ConnectError } from "@connectrpc/connect";
import { ActionType, SubjectType } from "#gen/oasis/moderation/v1/moderation_pb.ts";
import { languageOf, type ContentAdapter } from "./adapter.ts";

export const accountAdapter: ContentAdapter = {
  type: SubjectType.USER,
  contentType: "user",
  owner: "identity",
  actions: new Set([ActionType.SUSPEND_ACCOUNT]),
  async fetch(ctx, subject) {
    try {
      const { profile } = await ctx.identity.getProfile({ lookup: { case: "userId", value: subject.id } });
      if (!profile) return undefined;
      const text = `${profile.displayName}\n${profile.bio}`;
      const mediaIds = profile.avatarMediaId ? [profile.avatarMediaId] : [];
      return { ownerId: profile.userId, text, mediaIds, language: languageOf(text), gone: false };
    } catch (err) {
      const code = ConnectError.from(err).code;
      if (code === Code.NotFound || code === Code.Unauthenticated) return undefined;
      throw err;
    }
  },
};
