/** ListAuthorPostIds (internal): an author's live post ids, newest first, no visibility rules (page_size default 800, at most 1000). */
import type { ServiceImpl } from "@connectrpc/connect";
import type { PostService } from "#gen/oasis/post/v1/post_service_pb.ts";
import type { PostContext } from "../context.ts";
import { decodePageToken, encodePageToken, pageSize } from "#kit/page-token.ts";

export function listAuthorPostIds(ctx: PostContext): Pick<ServiceImpl<typeof PostService>, "listAuthorPostIds"> {
  return {
    async listAuthorPostIds(req) {
      const scope = `author-posts:${req.authorId}`;
      const limit = pageSize(req.pageSize, 800, 1000);
      const before = decodePageToken(scope, req.pageToken)?.[0] as bigint | undefined;
      const ids = await ctx.store.authorPostIds(ctx.rt.db, req.authorId, before, limit + 1);
      const page = ids.slice(0, limit);
      return { postIds: page, nextPageToken: ids.length > limit ? encodePageToken(scope, [page.at(-1)!]) : "" };
    },
  };
}
