/**
 * ListRelationships: every user the caller relates to (non-empty Relationships), ascending
 * by user id, page_size default 1000, at most 10,000; keyset on the last user id. Read from
 * MySQL (store.relationsPage, one statement per page), so a committed write is in it.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import type { GraphContext } from "../context.ts";
import { toRelationship } from "../domain/rules.ts";
import { decodePageToken, encodePageToken, pageSize } from "#kit/page-token.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";

export function listRelationships(ctx: GraphContext): Pick<ServiceImpl<typeof GraphService>, "listRelationships"> {
  return {
    async listRelationships(req) {
      const viewer = callerId();
      const scope = `relationships:${viewer}`;
      const limit = pageSize(req.pageSize, 1000, 10_000);
      const after = (decodePageToken(scope, req.pageToken)?.[0] as bigint | undefined) ?? 0n;
      const rows = await ctx.store.relationsPage(ctx.rt.db, viewer, after, limit + 1);
      const page = rows.slice(0, limit);
      return {
        relationships: page.map((r) => toRelationship(r.userId, r.flags)),
        nextPageToken: rows.length > limit ? encodePageToken(scope, [page.at(-1)!.userId]) : "",
      };
    },
  };
}
