/** DeleteComment: by the comment's author or the post's owner; idempotent (domain/comments.ts). */
import type { ServiceImpl } from "@connectrpc/connect";
import type { InteractionService } from "#gen/oasis/interaction/v1/interaction_service_pb.ts";
import type { InteractionContext } from "../context.ts";
import { deleteComment as remove } from "../domain/comments.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";

export function deleteComment(ctx: InteractionContext): Pick<ServiceImpl<typeof InteractionService>, "deleteComment"> {
  return {
    async deleteComment(req) {
      await remove(ctx, callerId(), req.commentId);
      return {};
    },
  };
}
