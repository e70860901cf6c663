/**
 * BatchGetMedia: the live ones among the distinct `media_ids`, in first-seen order (absent
 * ones left out), and the policies of their buckets (from the policy cache, as
 * ListBucketPolicies answers).
 */
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
      const live = ids.map((id) => found.get(id)).filter((r): r is MediaRecord => !!r && !r.deleted);
      const media = live.map((r) => toMedia(r, ctx.rt.config.publicPrefix));
      const policies = await Promise.all([...new Set(media.map((m) => m.bucket))].map((b) => ctx.policies.get(b)));
      return { media, policies: policies.filter((p) => p !== undefined) };
    },
  };
}
