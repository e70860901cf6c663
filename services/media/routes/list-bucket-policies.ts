/** ListBucketPolicies: every bucket's upload policy. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { MediaService } from "#gen/oasis/media/v1/media_service_pb.ts";
import type { MediaContext } from "../context.ts";

export function listBucketPolicies(ctx: MediaContext): Pick<ServiceImpl<typeof MediaService>, "listBucketPolicies"> {
  return {
    async listBucketPolicies() {
      return { policies: await ctx.policies.all() };
    },
  };
}
