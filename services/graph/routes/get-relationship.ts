/** GetRelationship: the caller's relation flags towards `user_id` (all false for an unknown user). */
import type { ServiceImpl } from "@connectrpc/connect";
import type { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import type { GraphContext } from "../context.ts";
import { relationsOf } from "../domain/relations.ts";
import { toRelationship } from "../domain/rules.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";

export function getRelationship(ctx: GraphContext): Pick<ServiceImpl<typeof GraphService>, "getRelationship"> {
  return {
    async getRelationship(req) {
      return { relationship: toRelationship(req.userId, (await relationsOf(ctx, callerId(), [req.userId])).get(req.userId)) };
    },
  };
}
