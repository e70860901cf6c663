/**
 * LeaveConvo: the caller stops being a member (their unread count goes to 0); logged to
 * every member, the caller included; event convo_left. Leaving again is a no-op.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { ChatService } from "#gen/oasis/chat/v1/chat_service_pb.ts";
import { ErrorReason } from "#gen/oasis/chat/v1/errors_pb.ts";
import { ConvoLeftSchema } from "#gen/oasis/chat/v1/events_pb.ts";
import type { ChatContext } from "../context.ts";
import { errors } from "../domain/errors.ts";
import { withLog } from "../domain/log.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";

export function leaveConvo(ctx: ChatContext): Pick<ServiceImpl<typeof ChatService>, "leaveConvo"> {
  return {
    async leaveConvo(req) {
      const me = callerId();
      const row = (await ctx.store.members(ctx.rt.db, req.convoId)).find((m) => m.userId === me);
      if (!row) throw errors.notFound(ErrorReason.NOT_A_MEMBER, `no convo ${req.convoId} of yours`, { convo_id: req.convoId });
      if (!row.active) return {};
      await withLog(ctx, async (tx, log) => {
        const members = await ctx.store.members(tx, req.convoId, true);
        if (!members.find((m) => m.userId === me)!.active) return;
        await ctx.store.updateMember(tx, req.convoId, me, { active: false, unreadCount: 0 });
        for (const m of members.filter((x) => x.active)) log(m.userId, { convoId: req.convoId, event: { case: "leftUserId", value: me } });
        await ctx.rt.outbox.add(tx, ConvoLeftSchema, { convoId: req.convoId, userId: me });
      });
      return {};
    },
  };
}
