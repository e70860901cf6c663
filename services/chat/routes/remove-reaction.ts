/** RemoveReaction: takes the caller's reaction back (idempotent). */
import type { ServiceImpl } from "@connectrpc/connect";
import type { ChatService } from "#gen/oasis/chat/v1/chat_service_pb.ts";
import type { ChatContext } from "../context.ts";
import { changeReaction } from "./add-reaction.ts";

export function removeReaction(ctx: ChatContext): Pick<ServiceImpl<typeof ChatService>, "removeReaction"> {
  return {
    async removeReaction(req) {
      return { message: await changeReaction(ctx, req.convoId, req.messageId, req.value, false) };
    },
  };
}
