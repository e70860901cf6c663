/** CreatePost: the caller's new post (domain/posts.ts createPost for checks and errors). */
import type { ServiceImpl } from "@connectrpc/connect";
import type { PostService } from "#gen/oasis/post/v1/post_service_pb.ts";
import type { PostContext } from "../context.ts";
import { currentUserId } from "#kit/call-context.ts";
import { createPost as create } from "../domain/posts.ts";

export function createPost(ctx: PostContext): Pick<ServiceImpl<typeof PostService>, "createPost"> {
  return {
    async createPost(req) {
      return create(ctx, currentUserId(), req);
    },
  };
}
