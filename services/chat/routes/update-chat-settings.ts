/** UpdateChatSettings: stores the caller's settings (UNSPECIFIED means EVERYONE). */
import type { ServiceImpl } from "@connectrpc/connect";
import { AllowIncoming } from "#gen/oasis/chat/v1/chat_pb.ts";
import type { ChatService } from "#gen/oasis/chat/v1/chat_service_pb.ts";
import type { ChatContext } from "../context.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";

export function updateChatSettings(ctx: ChatContext): Pick<ServiceImpl<typeof ChatService>, "updateChatSettings"> {
  return {
    async updateChatSettings(req) {
      const v = req.settings!.allowIncoming || AllowIncoming.EVERYONE;
      await ctx.store.putAllowIncoming(ctx.rt.db, callerId(), v);
      return { settings: { allowIncoming: v } };
    },
  };
}
