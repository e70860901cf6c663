/** GetCounts: follower and following counts of `user_id` (exact, from the versioned cache). */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import type { GraphContext } from "../context.ts";
import { create } from "@bufbuild/protobuf";
import { GraphCountsSchema } from "#gen/oasis/graph/v1/graph_pb.ts";

export function getCounts(ctx: GraphContext): Pick<ServiceImpl<typeof GraphService>, "getCounts"> {
  return {
    async getCounts(req) {
      const c = (await ctx.cache.getCounts([req.userId])).get(req.userId)!;
      return { counts: create(GraphCountsSchema, { userId: req.userId, followers: c.followers, following: c.following }) };
    },
  };
}
