/** The posts interaction acts on: seen through the post service, as the caller. */
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorReason } from "#gen/oasis/interaction/v1/errors_pb.ts";
import type { Post } from "#gen/oasis/post/v1/post_pb.ts";
import type { InteractionContext } from "../context.ts";

/**
 * The post, if the caller may see it: the post service applies visibility and blocks,
 * so this one check enforces "nobody interacts with a post they cannot see". Records
 * the post's author in posts_meta the first time (per process). Errors: NOT_FOUND
 * POST_NOT_FOUND (absent or not visible); others as the post service answers.
 */
export async function visiblePost(ctx: InteractionContext, postId: bigint): Promise<Post> {
  try {
    const post = (await ctx.post.getPost({ postId })).post!;
    if (!ctx.knownPosts.has(post.postId)) {
      await ctx.store.upsertPostMeta(ctx.rt.db, post.postId, post.authorId);
      if (ctx.knownPosts.size > 100_000) ctx.knownPosts.clear();
      ctx.knownPosts.add(post.postId);
    }
    return post;
  } catch (err) {
    if (ConnectError.from(err).code === Code.NotFound) {
      throw ctx.errors.notFound(ErrorReason.POST_NOT_FOUND, `no post ${postId} you can see`, { post_id: postId });
    }
    throw err;
  }
}
