/** AcceptConvo: REQUEST -> ACCEPTED for the caller; logged to every member; event convo_accepted. */
import type { ServiceImpl } from "@connectrpc/connect";
import { MemberStatus } from "#gen/oasis/chat/v1/chat_pb.ts";
import type { ChatService } from "#gen/oasis/chat/v1/chat_service_pb.ts";
import { ConvoAcceptedSchema } from "#gen/oasis/chat/v1/events_pb.ts";
import type { ChatContext } from "../context.ts";
import { requireMember } from "../domain/access.ts";
import { withLog } from "../domain/log.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";

export function acceptConvo(ctx: ChatContext): Pick<ServiceImpl<typeof ChatService>, "acceptConvo"> {
  return {
    async acceptConvo(req) {
      const me = callerId();
      const { me: row } = await requireMember(ctx, req.convoId, me);
      if (row.status === MemberStatus.ACCEPTED) return {};
      await withLog(ctx, async (tx, log) => {
        const members = await ctx.store.members(tx, req.convoId, true);
        if (members.find((m) => m.userId === me)!.status === MemberStatus.ACCEPTED) return;
        await ctx.store.updateMember(tx, req.convoId, me, { status: MemberStatus.ACCEPTED });
        for (const m of members.filter((x) => x.active)) log(m.userId, { convoId: req.convoId, event: { case: "acceptedUserId", value: me } });
        await ctx.rt.outbox.add(tx, ConvoAcceptedSchema, { convoId: req.convoId, userId: me });
      });
      return {};
    },
  };
}
