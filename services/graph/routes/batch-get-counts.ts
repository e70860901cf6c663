/** BatchGetCounts: counts of each distinct id of `user_ids`, in first-seen order. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import type { GraphContext } from "../context.ts";
import { create } from "@bufbuild/protobuf";
import { GraphCountsSchema } from "#gen/oasis/graph/v1/graph_pb.ts";

export function batchGetCounts(ctx: GraphContext): Pick<ServiceImpl<typeof GraphService>, "batchGetCounts"> {
  return {
    async batchGetCounts(req) {
      const ids = [...new Set(req.userIds)];
      const counts = await ctx.cache.getCounts(ids);
      return { counts: ids.map((id) => create(GraphCountsSchema, { userId: id, ...counts.get(id)! })) };
    },
  };
}
