/** BatchGetCounts: counters of each of `post_ids`, in request order (Redis, else MySQL). */
import type { ServiceImpl } from "@connectrpc/connect";
import type { InteractionService } from "#gen/oasis/interaction/v1/interaction_service_pb.ts";
import type { InteractionContext } from "../context.ts";
import { countsMessage } from "./present.ts";

export function batchGetCounts(ctx: InteractionContext): Pick<ServiceImpl<typeof InteractionService>, "batchGetCounts"> {
  return {
    async batchGetCounts(req) {
      const counts = await ctx.counters.get([...new Set(req.postIds)]);
      return { counts: req.postIds.map((id) => countsMessage(id, counts.get(id)!)) };
    },
  };
}
