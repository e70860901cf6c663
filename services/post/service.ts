/**
 * PostService: the route modules merged (one file per RPC under routes/); the checks
 * and writes are domain/posts.ts's, every read goes through the reader's visibility
 * filter (reader.ts, shared-rules/post-visibility.ts).
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { PostService } from "#gen/oasis/post/v1/post_service_pb.ts";
import type { PostContext } from "./context.ts";
import { batchGetPosts } from "./routes/batch-get-posts.ts";
import { createPost } from "./routes/create-post.ts";
import { deletePost } from "./routes/delete-post.ts";
import { getPost } from "./routes/get-post.ts";
import { listAuthorPostIds } from "./routes/list-author-post-ids.ts";
import { listPostRevisions } from "./routes/list-post-revisions.ts";
import { listUserPosts } from "./routes/list-user-posts.ts";
import { updatePost } from "./routes/update-post.ts";

export function postService(ctx: PostContext): ServiceImpl<typeof PostService> {
  return {
    ...createPost(ctx),
    ...getPost(ctx),
    ...batchGetPosts(ctx),
    ...updatePost(ctx),
    ...deletePost(ctx),
    ...listUserPosts(ctx),
    ...listPostRevisions(ctx),
    ...listAuthorPostIds(ctx),
  };
}
