/** DeletePost: by its author (domain/posts.ts deletePost). */
import type { ServiceImpl } from "@connectrpc/connect";
import type { PostService } from "#gen/oasis/post/v1/post_service_pb.ts";
import type { PostContext } from "../context.ts";
import { currentUserId } from "#kit/call-context.ts";
import { deletePost as remove } from "../domain/posts.ts";

export function deletePost(ctx: PostContext): Pick<ServiceImpl<typeof PostService>, "deletePost"> {
  return {
    async deletePost(req) {
      await remove(ctx, currentUserId(), req.postId);
      return {};
    },
  };
}
