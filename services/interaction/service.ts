/**
 * InteractionService: the route modules merged (one file per RPC under routes/). Every
 * like or comment first asks the post service, as the caller, for the post
 * (domain/posts.ts); rows, counters and events change in one transaction, only when a
 * row really changed; Redis gets the committed counters afterwards.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { InteractionService } from "#gen/oasis/interaction/v1/interaction_service_pb.ts";
import type { InteractionContext } from "./context.ts";
import { batchGetCounts } from "./routes/batch-get-counts.ts";
import { batchGetViewerState } from "./routes/batch-get-viewer-state.ts";
import { createComment } from "./routes/create-comment.ts";
import { deleteComment } from "./routes/delete-comment.ts";
import { likePost } from "./routes/like-post.ts";
import { listComments } from "./routes/list-comments.ts";
import { listLikers } from "./routes/list-likers.ts";
import { reconcileCounts } from "./routes/reconcile-counts.ts";
import { unlikePost } from "./routes/unlike-post.ts";

export function interactionService(ctx: InteractionContext): ServiceImpl<typeof InteractionService> {
  return {
    ...likePost(ctx),
    ...unlikePost(ctx),
    ...createComment(ctx),
    ...deleteComment(ctx),
    ...listComments(ctx),
    ...listLikers(ctx),
    ...batchGetCounts(ctx),
    ...batchGetViewerState(ctx),
    ...reconcileCounts(ctx),
  };
}
