/** ChatService: the route modules merged (one file per RPC under routes/). */
import type { ServiceImpl } from "@connectrpc/connect";
import type { ChatService } from "#gen/oasis/chat/v1/chat_service_pb.ts";
import type { ChatContext } from "./context.ts";
import { acceptConvo } from "./routes/accept-convo.ts";
import { addReaction } from "./routes/add-reaction.ts";
import { createConvo } from "./routes/create-convo.ts";
import { deleteMessageForSelf } from "./routes/delete-message-for-self.ts";
import { getChatSettings } from "./routes/get-chat-settings.ts";
import { getConvo } from "./routes/get-convo.ts";
import { getLog } from "./routes/get-log.ts";
import { getUnreadCounts } from "./routes/get-unread-counts.ts";
import { leaveConvo } from "./routes/leave-convo.ts";
import { listConvos } from "./routes/list-convos.ts";
import { listMessages } from "./routes/list-messages.ts";
import { muteConvo } from "./routes/mute-convo.ts";
import { removeReaction } from "./routes/remove-reaction.ts";
import { sendMessage } from "./routes/send-message.ts";
import { streamConvoEvents } from "./routes/stream-convo-events.ts";
import { unmuteConvo } from "./routes/unmute-convo.ts";
import { updateChatSettings } from "./routes/update-chat-settings.ts";
import { updateRead } from "./routes/update-read.ts";

export function chatService(ctx: ChatContext): ServiceImpl<typeof ChatService> {
  return {
    ...createConvo(ctx),
    ...getConvo(ctx),
    ...listConvos(ctx),
    ...acceptConvo(ctx),
    ...leaveConvo(ctx),
    ...muteConvo(ctx),
    ...unmuteConvo(ctx),
    ...sendMessage(ctx),
    ...listMessages(ctx),
    ...deleteMessageForSelf(ctx),
    ...addReaction(ctx),
    ...removeReaction(ctx),
    ...updateRead(ctx),
    ...getUnreadCounts(ctx),
    ...getLog(ctx),
    ...streamConvoEvents(ctx),
    ...getChatSettings(ctx),
    ...updateChatSettings(ctx),
  };
}
