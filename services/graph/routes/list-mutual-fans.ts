/** ListMutualFans: a page of followers `user_id` follows back, newest first (domain/lists.ts listPage for limits and errors). */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import type { GraphContext } from "../context.ts";
import { listPage } from "../domain/lists.ts";
import { followEdges } from "./present.ts";

export function listMutualFans(ctx: GraphContext): Pick<ServiceImpl<typeof GraphService>, "listMutualFans"> {
  return {
    async listMutualFans(req) {
      return followEdges(await listPage(ctx, "mutual", req.userId, req.pageSize, req.pageToken));
    },
  };
}
