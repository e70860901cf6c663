/** BatchGetPosts: the posts among the distinct `post_ids` the caller may see (others left out). */
import type { ServiceImpl } from "@connectrpc/connect";
import type { PostService } from "#gen/oasis/post/v1/post_service_pb.ts";
import type { PostContext } from "../context.ts";
import { currentCaller } from "#kit/call-context.ts";

export function batchGetPosts(ctx: PostContext): Pick<ServiceImpl<typeof PostService>, "batchGetPosts"> {
  return {
    async batchGetPosts(req) {
      return { posts: await ctx.reader.visibleByIds(currentCaller(), [...new Set(req.postIds)]) };
    },
  };
}
