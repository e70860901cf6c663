/** UploadMedia (internal; reached through the edge's upload route): the signed-in caller's image (domain/uploads.ts). UNAUTHENTICATED without a user. */
import type { ServiceImpl } from "@connectrpc/connect";
import { Code } from "@connectrpc/connect";
import type { MediaService } from "#gen/oasis/media/v1/media_service_pb.ts";
import type { MediaContext } from "../context.ts";
import { currentCaller } from "#kit/call-context.ts";
import { ErrorReason } from "#gen/oasis/media/v1/errors_pb.ts";
import { upload } from "../domain/uploads.ts";

export function uploadMedia(ctx: MediaContext): Pick<ServiceImpl<typeof MediaService>, "uploadMedia"> {
  return {
    async uploadMedia(req) {
      const owner = currentCaller().userId;
      if (owner === null) throw ctx.errors.fail(Code.Unauthenticated, ErrorReason.UNSPECIFIED, "uploads need a signed-in user");
      return upload(ctx, owner, req);
    },
  };
}
