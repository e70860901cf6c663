/**
 * MediaService: the route modules merged (one file per RPC under routes/). Uploads are
 * checked, processed, written durably and only then committed (domain/uploads.ts).
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { MediaService } from "#gen/oasis/media/v1/media_service_pb.ts";
import type { MediaContext } from "./context.ts";
import { batchGetMedia } from "./routes/batch-get-media.ts";
import { deleteMedia } from "./routes/delete-media.ts";
import { getMedia } from "./routes/get-media.ts";
import { listBucketPolicies } from "./routes/list-bucket-policies.ts";
import { updateBucketPolicy } from "./routes/update-bucket-policy.ts";
import { uploadMedia } from "./routes/upload-media.ts";

export function mediaService(ctx: MediaContext): ServiceImpl<typeof MediaService> {
  return {
    ...uploadMedia(ctx),
    ...getMedia(ctx),
    ...batchGetMedia(ctx),
    ...deleteMedia(ctx),
    ...listBucketPolicies(ctx),
    ...updateBucketPolicy(ctx),
  };
}
