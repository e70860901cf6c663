/**
 * Uploads. An upload is checked against its bucket's policy (size first, then the real
 * type and dimensions from the bytes), processed into variants, written durably to the
 * volume store, and only then committed as a row: a reader can never see an id whose
 * bytes are not there. A failed commit deletes the needles; a crash leaves them to the
 * orphan scan (scan.ts).
 */
import { create } from "@bufbuild/protobuf";
import { idempotentCreate } from "#kit/idempotency.ts";
import { ErrorReason } from "#gen/oasis/media/v1/errors_pb.ts";
import { MediaDeletedSchema, MediaUploadedSchema } from "#gen/oasis/media/v1/events_pb.ts";
import { UploadMediaRequestSchema, UploadMediaResponseSchema, type UploadMediaRequest, type UploadMediaResponse } from "#gen/oasis/media/v1/media_service_pb.ts";
import { randomCookie, randomId, type MediaContext } from "../context.ts";
import { inspect, processImage } from "../pipeline.ts";
import { checkImage, checkSize } from "../policy.ts";
import type { MediaRecord } from "./model.ts";
import { toMedia } from "./present.ts";
import { encodeCachedMedia } from "../../../shared-rules/media-cache.ts";

/**
 * Stores `ownerId`'s upload (idempotent by request_id). Errors: INVALID_ARGUMENT with
 * UNKNOWN_BUCKET, a policy rule (size, type, dimensions, animation) as UNSUPPORTED_TYPE,
 * CORRUPT_IMAGE or the rule's reason, a field violation on `data` naming the rule.
 */
export async function upload(ctx: MediaContext, ownerId: bigint, req: UploadMediaRequest): Promise<UploadMediaResponse> {
  const { rt, errors, store } = ctx;
  const violation = (v: { reason: ErrorReason; rule: string; description: string }) =>
    errors.invalid(v.reason, [{ field: "data", description: `${v.description} (${v.rule})`, reason: v.rule }], { rule: v.rule });
  const once = idempotentCreate({ scope: "UploadMedia", callerId: ownerId, requestId: req.requestId }, UploadMediaRequestSchema, req, UploadMediaResponseSchema);
  const replay = await once.replay(rt.db);
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
    ownerId,
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
      once.run(tx, async () => {
        await store.insertMedia(tx, record);
        const media = toMedia(record, rt.config.publicPrefix);
        await rt.outbox.add(tx, MediaUploadedSchema, { media });
        return create(UploadMediaResponseSchema, { media });
      }),
    );
    if (replayed) await Promise.all(keys.map((k) => ctx.volumes.delete(k)));
    // Written through before the answer, so a compose right after its upload reads the
    // item from Redis (shared-rules/media-cache.ts); `put` fences any older loader.
    else await ctx.cache.put(new Map([[String(record.id), encodeCachedMedia(response.media!)]])).catch((err) => rt.log.warn({ err }, "media cache write failed"));
    return response;
  } catch (err) {
    await Promise.all(keys.map((k) => ctx.volumes.delete(k).catch(() => false)));
    throw err;
  } finally {
    for (const k of keys) ctx.inFlight.delete(k);
  }
}

/**
 * `userId` deletes their media (idempotent: gone already is fine): the row is flagged
 * with media_deleted in one transaction, then the needles' deleted flags flip;
 * compaction reclaims the space later. Errors: PERMISSION_DENIED NOT_MEDIA_OWNER.
 */
export async function remove(ctx: MediaContext, userId: bigint, mediaId: bigint): Promise<void> {
  const { rt, errors } = ctx;
  const r = (await ctx.directory.get([mediaId])).get(mediaId);
  if (!r) return;
  // Gone already: its cache entry is dropped again (a retry after a failed drop).
  if (r.deleted) return ctx.cache.invalidate([String(r.id)]);
  if (r.ownerId !== userId) throw errors.permissionDenied(ErrorReason.NOT_MEDIA_OWNER, "only the owner may delete this media", { media_id: mediaId });
  await rt.tx(async (tx) => {
    if (await ctx.store.markDeleted(tx, r.id)) await rt.outbox.add(tx, MediaDeletedSchema, { mediaId: r.id, ownerId: r.ownerId });
  });
  // Then Redis, before the answer: the entry dropped and its version bumped, so a fill
  // that read the row live before the commit stores nothing (context.ts MediaDirectory).
  ctx.directory.forget(r.id);
  await ctx.cache.invalidate([String(r.id)]);
  await Promise.all(r.variants.map((v) => ctx.volumes.delete(v.needleKey)));
}
