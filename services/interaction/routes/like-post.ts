/** LikePost: the caller likes a post they can see (domain/likes.ts); returns its counters. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { InteractionService } from "#gen/oasis/interaction/v1/interaction_service_pb.ts";
import type { InteractionContext } from "../context.ts";
import { like } from "../domain/likes.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";
import { countsMessage } from "./present.ts";

export function likePost(ctx: InteractionContext): Pick<ServiceImpl<typeof InteractionService>, "likePost"> {
  return {
    async likePost(req) {
      const { postId, counts } = await like(ctx, callerId(), req.postId);
      return { counts: countsMessage(postId, counts) };
    },
  };
}
