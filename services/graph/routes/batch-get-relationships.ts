/** BatchGetRelationships: the caller's relations towards each distinct id of `user_ids`, in first-seen order, one store round trip at most. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import type { GraphContext } from "../context.ts";
import { relationsOf } from "../domain/relations.ts";
import { toRelationship } from "../domain/rules.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";

export function batchGetRelationships(ctx: GraphContext): Pick<ServiceImpl<typeof GraphService>, "batchGetRelationships"> {
  return {
    async batchGetRelationships(req) {
      const ids = [...new Set(req.userIds)];
      const flags = await relationsOf(ctx, callerId(), ids);
      return { relationships: ids.map((id) => toRelationship(id, flags.get(id))) };
    },
  };
}
