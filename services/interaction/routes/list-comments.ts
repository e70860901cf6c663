/**
 * ListComments: a page of a visible post's top-level comments (each with up to 3 replies
 * and its reply count) or of one thread's replies, oldest first (page_size default 20,
 * at most 100). Errors: those of visiblePost.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { InteractionService } from "#gen/oasis/interaction/v1/interaction_service_pb.ts";
import type { InteractionContext } from "../context.ts";
import { decodePageToken, encodePageToken, pageSize } from "#kit/page-token.ts";
import type { Comment } from "#gen/oasis/interaction/v1/interaction_pb.ts";
import { toComment } from "../domain/comments.ts";
import { visiblePost } from "../domain/posts.ts";

export function listComments(ctx: InteractionContext): Pick<ServiceImpl<typeof InteractionService>, "listComments"> {
  return {
    async listComments(req) {
      const { rt, store } = ctx;
      await visiblePost(ctx, req.postId);
      const scope = `comments:${req.postId}:${req.parentCommentId}`;
      const limit = pageSize(req.pageSize, 20, 100);
      const after = (decodePageToken(scope, req.pageToken)?.[0] as bigint | undefined) ?? 0n;
      const rows = await store.commentsPage(rt.db, req.postId, req.parentCommentId, after, limit + 1);
      const page = rows.slice(0, limit);
      let comments: Comment[];
      if (req.parentCommentId === 0n) {
        const { replies, counts } = await store.repliesOf(rt.db, page.map((c) => c.commentId), 3);
        comments = page.map((c) =>
          toComment(
            c,
            replies.filter((r) => r.parentCommentId === c.commentId).map((r) => toComment(r)),
            counts.get(c.commentId) ?? 0,
          ),
        );
      } else comments = page.map((c) => toComment(c));
      return { comments, nextPageToken: rows.length > limit ? encodePageToken(scope, [page.at(-1)!.commentId]) : "" };
    },
  };
}
