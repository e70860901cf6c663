/** UpdatePost: the caption only (update_mask `caption`, else INVALID_ARGUMENT FIELD_NOT_UPDATABLE); domain/posts.ts updateCaption. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { PostService } from "#gen/oasis/post/v1/post_service_pb.ts";
import type { PostContext } from "../context.ts";
import { currentUserId } from "#kit/call-context.ts";
import { ErrorReason } from "#gen/oasis/post/v1/errors_pb.ts";
import { updateCaption } from "../domain/posts.ts";

export function updatePost(ctx: PostContext): Pick<ServiceImpl<typeof PostService>, "updatePost"> {
  return {
    async updatePost(req) {
      const me = currentUserId();
      const paths = req.updateMask?.paths ?? [];
      if (paths.length !== 1 || paths[0] !== "caption") {
        throw ctx.errors.invalid(ErrorReason.FIELD_NOT_UPDATABLE, [{ field: "update_mask", description: 'only "caption" can be updated' }]);
      }
      return { post: await updateCaption(ctx, me, req.post!) };
    },
  };
}
