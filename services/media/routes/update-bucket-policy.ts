/** UpdateBucketPolicy (internal): creates or replaces a bucket's policy. INVALID_ARGUMENT UNKNOWN_BUCKET for a bad bucket name. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { MediaService } from "#gen/oasis/media/v1/media_service_pb.ts";
import type { MediaContext } from "../context.ts";
import { ErrorReason } from "#gen/oasis/media/v1/errors_pb.ts";

export function updateBucketPolicy(ctx: MediaContext): Pick<ServiceImpl<typeof MediaService>, "updateBucketPolicy"> {
  return {
    async updateBucketPolicy(req) {
      const p = req.policy!;
      if (!/^[a-z0-9-]{1,64}$/.test(p.bucket)) throw ctx.errors.invalid(ErrorReason.UNKNOWN_BUCKET, [{ field: "policy.bucket", description: "must be 1-64 chars of [a-z0-9-]" }]);
      await ctx.rt.tx((tx) => ctx.store.upsertBucket(tx, p));
      await ctx.policies.reload();
      return { policy: await ctx.policies.get(p.bucket) };
    },
  };
}
