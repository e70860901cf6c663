/** GetChatSettings: the caller's settings (EVERYONE until changed). */
import type { ServiceImpl } from "@connectrpc/connect";
import { AllowIncoming } from "#gen/oasis/chat/v1/chat_pb.ts";
import type { ChatService } from "#gen/oasis/chat/v1/chat_service_pb.ts";
import type { ChatContext } from "../context.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";

export function getChatSettings(ctx: ChatContext): Pick<ServiceImpl<typeof ChatService>, "getChatSettings"> {
  return {
    async getChatSettings() {
      const me = callerId();
      const v = (await ctx.store.allowIncoming(ctx.rt.db, [me])).get(me) ?? AllowIncoming.EVERYONE;
      return { settings: { allowIncoming: v } };
    },
  };
}
