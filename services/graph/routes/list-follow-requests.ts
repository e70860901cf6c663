/** ListFollowRequests: pending requests to follow the caller, newest first (page_size default 50, at most 1000). */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import type { GraphContext } from "../context.ts";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { decodePageToken, encodePageToken, pageSize } from "#kit/page-token.ts";
import { PendingFollowerSchema } from "#gen/oasis/graph/v1/graph_pb.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";

export function listFollowRequests(ctx: GraphContext): Pick<ServiceImpl<typeof GraphService>, "listFollowRequests"> {
  return {
    async listFollowRequests(req) {
      const target = callerId();
      const scope = `requests:${target}`;
      const limit = pageSize(req.pageSize, 50, 1000);
      const before = decodePageToken(scope, req.pageToken)?.[0] as bigint | undefined;
      const rows = await ctx.store.requestsPage(ctx.rt.db, target, before, limit + 1);
      const page = rows.slice(0, limit);
      return {
        requests: page.map((r) => create(PendingFollowerSchema, { userId: r.userId, createTime: timestampFromDate(r.createdAt) })),
        nextPageToken: rows.length > limit ? encodePageToken(scope, [page.at(-1)!.id]) : "",
      };
    },
  };
}
