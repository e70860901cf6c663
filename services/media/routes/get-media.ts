/** GetMedia: one live media. Errors: NOT_FOUND MEDIA_NOT_FOUND (absent or deleted). */
import type { ServiceImpl } from "@connectrpc/connect";
import type { MediaService } from "#gen/oasis/media/v1/media_service_pb.ts";
import type { MediaContext } from "../context.ts";
import { ErrorReason } from "#gen/oasis/media/v1/errors_pb.ts";
import { toMedia } from "../domain/present.ts";

export function getMedia(ctx: MediaContext): Pick<ServiceImpl<typeof MediaService>, "getMedia"> {
  return {
    async getMedia(req) {
      const r = (await ctx.directory.get([req.mediaId])).get(req.mediaId);
      if (!r || r.deleted) throw ctx.errors.notFound(ErrorReason.MEDIA_NOT_FOUND, `no media ${req.mediaId}`, { media_id: req.mediaId });
      return { media: toMedia(r, ctx.rt.config.publicPrefix) };
    },
  };
}
