/** ListMessages: newest first (keyset on message_id), without the caller's hidden ones, with reactions and signed image URLs. */
import type { ServiceImpl } from "@connectrpc/connect";
import { decodePageToken, encodePageToken, pageSize } from "#kit/page-token.ts";
import type { ChatService } from "#gen/oasis/chat/v1/chat_service_pb.ts";
import type { ChatContext } from "../context.ts";
import { requireMember } from "../domain/access.ts";
import { messageOf, signMessage } from "../domain/present.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";

export function listMessages(ctx: ChatContext): Pick<ServiceImpl<typeof ChatService>, "listMessages"> {
  const signer = { key: ctx.rt.config.mediaUrlKey, ttlSeconds: ctx.rt.config.mediaUrlTtlSeconds };
  return {
    async listMessages(req) {
      const me = callerId();
      await requireMember(ctx, req.convoId, me);
      const scope = `messages:${req.convoId}`;
      const limit = pageSize(req.pageSize, 50, 200);
      const before = decodePageToken(scope, req.pageToken)?.[0] as bigint | undefined;
      const rows = await ctx.store.messages(ctx.rt.db, req.convoId, me, before, limit + 1);
      const page = rows.slice(0, limit);
      const reactions = await ctx.store.reactions(ctx.rt.db, page.map((m) => m.messageId));
      return {
        messages: page.map((m) => signMessage(signer, messageOf(m, reactions.get(m.messageId)))),
        nextPageToken: rows.length > limit ? encodePageToken(scope, [page.at(-1)!.messageId]) : "",
      };
    },
  };
}
