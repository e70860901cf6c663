/** UnlikePost: the caller's like is removed (idempotent); returns the post's counters. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { InteractionService } from "#gen/oasis/interaction/v1/interaction_service_pb.ts";
import type { InteractionContext } from "../context.ts";
import { unlike } from "../domain/likes.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";
import { countsMessage } from "./present.ts";

export function unlikePost(ctx: InteractionContext): Pick<ServiceImpl<typeof InteractionService>, "unlikePost"> {
  return {
    async unlikePost(req) {
      return { counts: countsMessage(req.postId, await unlike(ctx, callerId(), req.postId)) };
    },
  };
}
