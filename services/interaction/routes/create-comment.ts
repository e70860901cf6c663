/** CreateComment: a comment or reply by the caller (domain/comments.ts for rules and errors). */
import type { ServiceImpl } from "@connectrpc/connect";
import type { InteractionService } from "#gen/oasis/interaction/v1/interaction_service_pb.ts";
import type { InteractionContext } from "../context.ts";
import { createComment as create } from "../domain/comments.ts";
import { currentUserId as callerId } from "#kit/call-context.ts";

export function createComment(ctx: InteractionContext): Pick<ServiceImpl<typeof InteractionService>, "createComment"> {
  return {
    async createComment(req) {
      return create(ctx, callerId(), req);
    },
  };
}
