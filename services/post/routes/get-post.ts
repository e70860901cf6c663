/** GetPost: one post the caller may see. NOT_FOUND POST_NOT_FOUND otherwise. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { PostService } from "#gen/oasis/post/v1/post_service_pb.ts";
import type { PostContext } from "../context.ts";
import { getVisible } from "../domain/posts.ts";

export function getPost(ctx: PostContext): Pick<ServiceImpl<typeof PostService>, "getPost"> {
  return {
    async getPost(req) {
      return { post: await getVisible(ctx, req.postId) };
    },
  };
}
