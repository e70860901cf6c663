/** ListOperations: the append-only operation log, newest first, filtered (keyset pages on op id). */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { decodePageToken, encodePageToken, pageSize } from "#kit/page-token.ts";
import type { ModerationService } from "#gen/oasis/moderation/v1/moderation_service_pb.ts";
import type { ModerationContext } from "../context.ts";
import { requireModerator } from "../domain/roles.ts";

export function listOperations(ctx: ModerationContext): Pick<ServiceImpl<typeof ModerationService>, "listOperations"> {
  return {
    async listOperations(req) {
      await requireModerator(ctx.roles);
      const scope = `ops:${req.ticketId}:${req.actorId}:${req.kind}`;
      const limit = pageSize(req.pageSize, 50, 500);
      const before = decodePageToken(scope, req.pageToken)?.[0] as bigint | undefined;
      const rows = await ctx.store.operations(ctx.rt.db, { ticketId: req.ticketId, actorId: req.actorId, kind: req.kind, beforeOpId: before, limit: limit + 1 });
      const page = rows.slice(0, limit);
      return {
        operations: page.map((o) => ({ operationId: o.opId, time: timestampFromDate(o.at), actorId: o.actorId, kind: o.kind, ticketId: o.ticketId, actionId: o.actionId, detail: o.detail })),
        nextPageToken: rows.length > limit ? encodePageToken(scope, [page.at(-1)!.opId]) : "",
      };
    },
  };
}
