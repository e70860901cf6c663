/** ListFollowers: a page of who follows `user_id`, newest first (domain/lists.ts listPage for limits and errors). */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import type { GraphContext } from "../context.ts";
import { listPage } from "../domain/lists.ts";
import { followEdges } from "./present.ts";

export function listFollowers(ctx: GraphContext): Pick<ServiceImpl<typeof GraphService>, "listFollowers"> {
  return {
    async listFollowers(req) {
      return followEdges(await listPage(ctx, "followers", req.userId, req.pageSize, req.pageToken));
    },
  };
}
