/** ListLikers: who liked a visible post, newest first (page_size default 50, at most 1000). Errors: those of visiblePost. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { InteractionService } from "#gen/oasis/interaction/v1/interaction_service_pb.ts";
import type { InteractionContext } from "../context.ts";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { decodePageToken, encodePageToken, pageSize } from "#kit/page-token.ts";
import { LikerSchema } from "#gen/oasis/interaction/v1/interaction_pb.ts";
import { visiblePost } from "../domain/posts.ts";

export function listLikers(ctx: InteractionContext): Pick<ServiceImpl<typeof InteractionService>, "listLikers"> {
  return {
    async listLikers(req) {
      await visiblePost(ctx, req.postId);
      const scope = `likers:${req.postId}`;
      const limit = pageSize(req.pageSize, 50, 1000);
      const before = decodePageToken(scope, req.pageToken)?.[0] as bigint | undefined;
      const rows = await ctx.store.likersPage(ctx.rt.db, req.postId, before, limit + 1);
      const page = rows.slice(0, limit);
      return {
        likers: page.map((r) => create(LikerSchema, { userId: r.userId, createdAt: timestampFromDate(r.createdAt) })),
        nextPageToken: rows.length > limit ? encodePageToken(scope, [page.at(-1)!.id]) : "",
      };
    },
  };
}
