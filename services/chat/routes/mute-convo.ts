/** MuteConvo: no notifications from the convo for the caller (still counted unread). */
import type { ServiceImpl } from "@connectrpc/connect";
import type { ChatService } from "#gen/oasis/chat/v1/chat_service_pb.ts";
import type { ChatContext } from "../context.ts";
import { requireMember } from "../domain/access.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";

/** Sets the caller's mute flag on a convo they are in. */
export async function setMuted(ctx: ChatContext, convoId: bigint, muted: boolean): Promise<void> {
  const me = callerId();
  await requireMember(ctx, convoId, me);
  await ctx.rt.tx((tx) => ctx.store.updateMember(tx, convoId, me, { muted }));
}

export function muteConvo(ctx: ChatContext): Pick<ServiceImpl<typeof ChatService>, "muteConvo"> {
  return {
    async muteConvo(req) {
      await setMuted(ctx, req.convoId, true);
      return {};
    },
  };
}
