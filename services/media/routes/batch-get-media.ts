/** BatchGetMedia: the live ones among the distinct `media_ids`, in first-seen order (absent ones left out). */
import type { ServiceImpl } from "@connectrpc/connect";
import type { MediaService } from "#gen/oasis/media/v1/media_service_pb.ts";
import type { MediaContext } from "../context.ts";
import type { MediaRecord } from "../domain/model.ts";
import { toMedia } from "../domain/present.ts";

export function batchGetMedia(ctx: MediaContext): Pick<ServiceImpl<typeof MediaService>, "batchGetMedia"> {
  return {
    async batchGetMedia(req) {
      const ids = [...new Set(req.mediaIds)];
      const found = await ctx.directory.get(ids);
      return { media: ids.map((id) => found.get(id)).filter((r): r is MediaRecord => !!r && !r.deleted).map((r) => toMedia(r, ctx.rt.config.publicPrefix)) };
    },
  };
}
