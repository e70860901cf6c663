/** GetLog: the caller's log entries after a cursor, oldest first (default 100, max 1000). */
import type { ServiceImpl } from "@connectrpc/connect";
import type { ChatService } from "#gen/oasis/chat/v1/chat_service_pb.ts";
import { ErrorReason } from "#gen/oasis/chat/v1/errors_pb.ts";
import type { ChatContext } from "../context.ts";
import { errors } from "../domain/errors.ts";
import { parseCursor } from "../domain/log.ts";
import { signEntry } from "../domain/present.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";

export function getLog(ctx: ChatContext): Pick<ServiceImpl<typeof ChatService>, "getLog"> {
  const signer = { key: ctx.rt.config.mediaUrlKey, ttlSeconds: ctx.rt.config.mediaUrlTtlSeconds };
  return {
    async getLog(req) {
      const after = parseCursor(req.cursor);
      if (after === undefined) throw errors.invalid(ErrorReason.BAD_CURSOR, [{ field: "cursor", description: "is not a cursor from GetLog or StreamConvoEvents" }]);
      const limit = req.limit || 100;
      const rows = await ctx.store.logSince(ctx.rt.db, callerId(), after, limit + 1);
      const entries = rows.slice(0, limit).map((e) => signEntry(signer, e));
      return { entries, cursor: entries.at(-1)?.cursor ?? String(after), hasMore: rows.length > limit };
    },
  };
}
