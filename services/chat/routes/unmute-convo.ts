/** UnmuteConvo: undoes MuteConvo. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { ChatService } from "#gen/oasis/chat/v1/chat_service_pb.ts";
import type { ChatContext } from "../context.ts";
import { setMuted } from "./mute-convo.ts";

export function unmuteConvo(ctx: ChatContext): Pick<ServiceImpl<typeof ChatService>, "unmuteConvo"> {
  return {
    async unmuteConvo(req) {
      await setMuted(ctx, req.convoId, false);
      return {};
    },
  };
}
