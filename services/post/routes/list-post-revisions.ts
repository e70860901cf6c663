/** ListPostRevisions: the captions of a post the caller may see, oldest first. */
import type { ServiceImpl } from "@connectrpc/connect";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { PostService } from "#gen/oasis/post/v1/post_service_pb.ts";
import type { PostContext } from "../context.ts";
import { PostRevisionSchema } from "#gen/oasis/post/v1/post_pb.ts";
import { getVisible } from "../domain/posts.ts";

export function listPostRevisions(ctx: PostContext): Pick<ServiceImpl<typeof PostService>, "listPostRevisions"> {
  return {
    async listPostRevisions(req) {
      const post = await getVisible(ctx, req.postId);
      const revs = await ctx.store.revisions(ctx.rt.db, post.postId);
      return {
        revisions: revs
          .filter((r) => r.revision <= post.editCount)
          .map((r) => create(PostRevisionSchema, { revision: r.revision, caption: r.caption, createdAt: timestampFromDate(r.createdAt) })),
      };
    },
  };
}
