/** BatchGetViewerState: whether the caller liked or referred each of `post_ids`, in request order. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { InteractionService } from "#gen/oasis/interaction/v1/interaction_service_pb.ts";
import type { InteractionContext } from "../context.ts";
import { create } from "@bufbuild/protobuf";
import { ViewerStateSchema } from "#gen/oasis/interaction/v1/interaction_pb.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";

export function batchGetViewerState(ctx: InteractionContext): Pick<ServiceImpl<typeof InteractionService>, "batchGetViewerState"> {
  return {
    async batchGetViewerState(req) {
      const states = await ctx.viewerStates.get(callerId(), [...new Set(req.postIds)]);
      return { states: req.postIds.map((id) => create(ViewerStateSchema, { postId: id, ...states.get(id)! })) };
    },
  };
}
