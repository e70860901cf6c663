/** DeleteMedia: the caller's own media (domain/uploads.ts remove); idempotent. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { MediaService } from "#gen/oasis/media/v1/media_service_pb.ts";
import type { MediaContext } from "../context.ts";
import { currentCaller } from "#kit/call-context.ts";
import { remove } from "../domain/uploads.ts";

export function deleteMedia(ctx: MediaContext): Pick<ServiceImpl<typeof MediaService>, "deleteMedia"> {
  return {
    async deleteMedia(req) {
      await remove(ctx, currentCaller().userId!, req.mediaId);
      return {};
    },
  };
}
