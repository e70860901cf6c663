/** GetUnreadCounts: the caller's counter rows (one indexed read), total and per convo. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { ChatService } from "#gen/oasis/chat/v1/chat_service_pb.ts";
import type { ChatContext } from "../context.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";

export function getUnreadCounts(ctx: ChatContext): Pick<ServiceImpl<typeof ChatService>, "getUnreadCounts"> {
  return {
    async getUnreadCounts() {
      const counts = await ctx.store.unreadCounts(ctx.rt.db, callerId());
      let total = 0n;
      const byConvo: Record<string, bigint> = {};
      for (const [id, n] of counts) {
        total += BigInt(n);
        byConvo[String(id)] = BigInt(n);
      }
      return { total, byConvo };
    },
  };
}
