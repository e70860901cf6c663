/** GetConvo: one convo of the caller. NOT_FOUND (NOT_A_MEMBER) for anyone else. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { ChatService } from "#gen/oasis/chat/v1/chat_service_pb.ts";
import { ErrorReason } from "#gen/oasis/chat/v1/errors_pb.ts";
import type { ChatContext } from "../context.ts";
import { errors } from "../domain/errors.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";
import { convoViews } from "./convo-view.ts";

export function getConvo(ctx: ChatContext): Pick<ServiceImpl<typeof ChatService>, "getConvo"> {
  return {
    async getConvo(req) {
      const row = await ctx.store.member(ctx.rt.db, req.convoId, callerId());
      if (!row?.active) throw errors.notFound(ErrorReason.NOT_A_MEMBER, `no convo ${req.convoId} of yours`, { convo_id: req.convoId });
      return { convo: (await convoViews(ctx, [row]))[0] };
    },
  };
}
