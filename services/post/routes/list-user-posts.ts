/** ListUserPosts: `user_id`'s posts the caller may see, newest first (page_size default 20, at most 100). */
import type { ServiceImpl } from "@connectrpc/connect";
import type { PostService } from "#gen/oasis/post/v1/post_service_pb.ts";
import type { PostContext } from "../context.ts";
import { currentCaller } from "#kit/call-context.ts";
import { decodePageToken, encodePageToken, pageSize } from "#kit/page-token.ts";
import type { Post } from "#gen/oasis/post/v1/post_pb.ts";

export function listUserPosts(ctx: PostContext): Pick<ServiceImpl<typeof PostService>, "listUserPosts"> {
  return {
    async listUserPosts(req) {
      const scope = `user-posts:${req.userId}`;
      const limit = pageSize(req.pageSize, 20, 100);
      let before = decodePageToken(scope, req.pageToken)?.[0] as bigint | undefined;
      const posts: Post[] = [];
      // Some posts may be hidden from this caller (followers-only): read on until the page is full.
      for (let round = 0; round < 10 && posts.length < limit; round++) {
        const ids = await ctx.store.authorPostIds(ctx.rt.db, req.userId, before, limit * 2);
        if (ids.length === 0) break;
        for (const p of await ctx.reader.visibleByIds(currentCaller(), ids)) {
          if (posts.length < limit) posts.push(p);
        }
        before = ids.at(-1);
        if (ids.length < limit * 2) {
          before = undefined;
          break;
        }
      }
      const last = posts.at(-1);
      const more = posts.length === limit && last !== undefined;
      return { posts, nextPageToken: more ? encodePageToken(scope, [last.postId]) : "", totalSize: await ctx.store.userPostCount(ctx.rt.db, req.userId) };
    },
  };
}
