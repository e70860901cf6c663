/** ListFollowing: a page of whom `user_id` follows, newest first (domain/lists.ts listPage for limits and errors). */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import type { GraphContext } from "../context.ts";
import { listPage } from "../domain/lists.ts";
import { followEdges } from "./present.ts";

export function listFollowing(ctx: GraphContext): Pick<ServiceImpl<typeof GraphService>, "listFollowing"> {
  return {
    async listFollowing(req) {
      return followEdges(await listPage(ctx, "following", req.userId, req.pageSize, req.pageToken));
    },
  };
}
