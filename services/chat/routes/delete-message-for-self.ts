/** DeleteMessageForSelf: hides a message from the caller only; logged to the caller; event message_deleted. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { ChatService } from "#gen/oasis/chat/v1/chat_service_pb.ts";
import { ErrorReason } from "#gen/oasis/chat/v1/errors_pb.ts";
import { MessageDeletedSchema } from "#gen/oasis/chat/v1/events_pb.ts";
import type { ChatContext } from "../context.ts";
import { requireMember } from "../domain/access.ts";
import { errors } from "../domain/errors.ts";
import { withLog } from "../domain/log.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";

export function deleteMessageForSelf(ctx: ChatContext): Pick<ServiceImpl<typeof ChatService>, "deleteMessageForSelf"> {
  return {
    async deleteMessageForSelf(req) {
      const me = callerId();
      await requireMember(ctx, req.convoId, me);
      if (!(await ctx.store.message(ctx.rt.db, req.convoId, req.messageId))) {
        throw errors.notFound(ErrorReason.MESSAGE_NOT_FOUND, `no message ${req.messageId} in this convo`, { message_id: req.messageId });
      }
      await withLog(ctx, async (tx, log) => {
        if (!(await ctx.store.hide(tx, me, req.convoId, req.messageId))) return;
        log(me, { convoId: req.convoId, event: { case: "messageDeletedId", value: req.messageId } });
        await ctx.rt.outbox.add(tx, MessageDeletedSchema, { convoId: req.convoId, messageId: req.messageId, userId: me });
      });
      return {};
    },
  };
}
