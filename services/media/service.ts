/**
 * MediaService handlers. An upload is checked against its bucket's policy (size first,
 * then the real type and dimensions from the bytes), processed into variants, written
 * durably to the volume store, and only then committed as a row: a reader can never see
 * an id whose bytes are not there. A failed commit deletes the needles; a crash leaves
 * them to the orphan scan (scan.ts).
 */
import { create } from "@bufbuild/protobuf";
import { Code, type ServiceImpl } from "@connectrpc/connect";
import { currentCaller } from "#kit/call-context.ts";
import { fingerprint, idempotent, storedResponse } from "#kit/idempotency.ts";
import { ErrorReason } from "#gen/oasis/media/v1/errors_pb.ts";
import { MediaDeletedSchema, MediaUploadedSchema } from "#gen/oasis/media/v1/events_pb.ts";
import { MediaService, UploadMediaRequestSchema, UploadMediaResponseSchema } from "#gen/oasis/media/v1/media_service_pb.ts";
import { randomCookie, randomId, type MediaContext } from "./context.ts";
import { inspect, processImage } from "./pipeline.ts";
import { checkImage, checkSize } from "./policy.ts";
import { insertMedia, markDeleted, toMedia, upsertBucket, type MediaRecord } from "./store.ts";

const caller = () => currentCaller();

export function mediaService(ctx: MediaContext): ServiceImpl<typeof MediaService> {
  const { rt, errors } = ctx;
  const prefix = rt.config.publicPrefix;

  function violation(v: { reason: ErrorReason; rule: string; description: string }) {
    return errors.invalid(v.reason, [{ field: "data", description: `${v.description} (${v.rule})`, reason: v.rule }], { rule: v.rule });
  }

  return {
    async uploadMedia(req) {
      const owner = caller().userId;
      if (owner === null) throw errors.fail(Code.Unauthenticated, ErrorReason.UNSPECIFIED, "uploads need a signed-in user");
      const key = { scope: "UploadMedia", callerId: owner, requestId: req.requestId };
      const print = fingerprint(UploadMediaRequestSchema, req);
      const replay = await storedResponse(rt.db, key, print, UploadMediaResponseSchema);
      if (replay) return replay;

      const policy = await ctx.policies.get(req.bucket);
      if (!policy) {
        throw errors.invalid(ErrorReason.UNKNOWN_BUCKET, [{ field: "bucket", description: `no bucket "${req.bucket}"` }], { bucket: req.bucket });
      }
      const tooBig = checkSize(policy, req.data.byteLength);
      if (tooBig) throw violation(tooBig);
      const info = await inspect(req.data);
      if ("kind" in info) {
        throw violation({
          reason: info.kind === "unsupported" ? ErrorReason.UNSUPPORTED_TYPE : ErrorReason.CORRUPT_IMAGE,
          rule: info.kind === "unsupported" ? "allowed_content_types" : "decodable",
          description: info.detail,
        });
      }
      const bad = checkImage(policy, info);
      if (bad) throw violation(bad);

      // Only now, with the header's size inside the policy, are pixels decoded (once).
      const processed = await processImage(req.data, info, policy.watermarkText, policy.maxWidth * policy.maxHeight);
      if ("kind" in processed) throw violation({ reason: ErrorReason.CORRUPT_IMAGE, rule: "decodable", description: processed.detail });
      const record: MediaRecord = {
        id: randomId(),
        ownerId: owner,
        bucket: policy.bucket,
        contentType: info.contentType,
        width: info.width,
        height: info.height,
        sizeBytes: processed.variants.find((v) => v.name === "orig")!.bytes.byteLength,
        blurhash: processed.blurhash,
        contentHash: processed.contentHash,
        animated: info.animated,
        createdAt: new Date(),
        deleted: false,
        variants: processed.variants.map((v) => ({
          name: v.name,
          needleKey: randomId(),
          cookie: randomCookie(),
          contentType: v.contentType,
          width: v.width,
          height: v.height,
          sizeBytes: v.bytes.byteLength,
        })),
      };
      const keys = record.variants.map((v) => v.needleKey);
      for (const k of keys) ctx.inFlight.add(k);
      try {
        // 1) Bytes first, durably (group-committed fsync).
        await Promise.all(record.variants.map((v, i) => ctx.volumes.write(v.needleKey, v.cookie, processed.variants[i]!.bytes)));
        // 2) Then the row: the moment it commits, the media exists.
        const { response, replayed } = await rt.tx((tx) =>
          idempotent(tx, key, print, UploadMediaResponseSchema, async () => {
            await insertMedia(tx, record);
            const media = toMedia(record, prefix);
            await rt.outbox.add(tx, MediaUploadedSchema, { media });
            return create(UploadMediaResponseSchema, { media });
          }),
        );
        if (replayed) await Promise.all(keys.map((k) => ctx.volumes.delete(k)));
        return response;
      } catch (err) {
        await Promise.all(keys.map((k) => ctx.volumes.delete(k).catch(() => false)));
        throw err;
      } finally {
        for (const k of keys) ctx.inFlight.delete(k);
      }
    },

    async getMedia(req) {
      const r = (await ctx.directory.get([req.mediaId])).get(req.mediaId);
      if (!r || r.deleted) throw errors.notFound(ErrorReason.MEDIA_NOT_FOUND, `no media ${req.mediaId}`, { media_id: req.mediaId });
      return { media: toMedia(r, prefix) };
    },

    async batchGetMedia(req) {
      const ids = [...new Set(req.mediaIds)];
      const found = await ctx.directory.get(ids);
      return { media: ids.map((id) => found.get(id)).filter((r): r is MediaRecord => !!r && !r.deleted).map((r) => toMedia(r, prefix)) };
    },

    async deleteMedia(req) {
      const me = caller().userId!;
      const r = (await ctx.directory.get([req.mediaId])).get(req.mediaId);
      if (!r || r.deleted) return {};
      if (r.ownerId !== me) throw errors.permissionDenied(ErrorReason.NOT_MEDIA_OWNER, "only the owner may delete this media", { media_id: req.mediaId });
      await rt.tx(async (tx) => {
        if (await markDeleted(tx, r.id)) await rt.outbox.add(tx, MediaDeletedSchema, { mediaId: r.id, ownerId: r.ownerId });
      });
      ctx.directory.forget(r.id);
      // Flip the needles' deleted flags now; compaction reclaims the space later.
      await Promise.all(r.variants.map((v) => ctx.volumes.delete(v.needleKey)));
      return {};
    },

    async listBucketPolicies() {
      return { policies: await ctx.policies.all() };
    },

    async updateBucketPolicy(req) {
      const p = req.policy!;
      if (!/^[a-z0-9-]{1,64}$/.test(p.bucket)) throw errors.invalid(ErrorReason.UNKNOWN_BUCKET, [{ field: "policy.bucket", description: "must be 1-64 chars of [a-z0-9-]" }]);
      await rt.tx((tx) => upsertBucket(tx, p));
      await ctx.policies.reload();
      return { policy: await ctx.policies.get(p.bucket) };
    },
  };
}
