/**
 * UpdateRead: moves the caller's read mark forward and recounts their unread messages in
 * the same transaction (store.markRead); a moved mark is logged to every member (read
 * receipts, as Matrix sends them) and published as convo_read.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { ChatService } from "#gen/oasis/chat/v1/chat_service_pb.ts";
import { ErrorReason } from "#gen/oasis/chat/v1/errors_pb.ts";
import { ConvoReadSchema } from "#gen/oasis/chat/v1/events_pb.ts";
import type { ChatContext } from "../context.ts";
import { requireMember } from "../domain/access.ts";
import { errors } from "../domain/errors.ts";
import { withLog } from "../domain/log.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";
import { convoViews } from "./convo-view.ts";

export function updateRead(ctx: ChatContext): Pick<ServiceImpl<typeof ChatService>, "updateRead"> {
  return {
    async updateRead(req) {
      const me = callerId();
      const { me: before, members } = await requireMember(ctx, req.convoId, me);
      if (req.messageId && !(await ctx.store.message(ctx.rt.db, req.convoId, req.messageId))) {
        throw errors.notFound(ErrorReason.MESSAGE_NOT_FOUND, `no message ${req.messageId} in this convo`, { message_id: req.messageId });
      }
      if (!(req.messageId && req.messageId <= before.readMessageId)) {
        await withLog(ctx, async (tx, log) => {
          const r = await ctx.store.markRead(tx, req.convoId, me, req.messageId);
          if (r.previous === r.readMessageId) return;
          for (const m of members.filter((x) => x.active)) log(m.userId, { convoId: req.convoId, event: { case: "read", value: { userId: me, messageId: r.readMessageId } } });
          await ctx.rt.outbox.add(tx, ConvoReadSchema, { convoId: req.convoId, userId: me, messageId: r.readMessageId, unreadCount: BigInt(r.unreadCount) });
        });
      }
      const row = await ctx.store.member(ctx.rt.db, req.convoId, me);
      return { convo: (await convoViews(ctx, [row!]))[0] };
    },
  };
}
