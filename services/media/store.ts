/**
 * Media's SQL (database `oasis_media`): bucket policies, media rows and where each
 * variant's bytes live (needle key and cookie in the volume store). Implements
 * domain/model.ts MediaStore.
 */
import { create } from "@bufbuild/protobuf";
import { select, write, type Queryable } from "#kit/mysql.ts";
import { BucketPolicySchema, type BucketPolicy } from "#gen/oasis/media/v1/media_pb.ts";
import type { MediaRecord, MediaStore, VariantLocation } from "./domain/model.ts";

export type { MediaRecord, VariantLocation };
export { toMedia } from "./domain/present.ts";

interface BucketRow {
  name: string;
  allowed_content_types: string | string[];
  max_bytes: string;
  min_width: number;
  min_height: number;
  max_width: number;
  max_height: number;
  max_count_per_post: number;
  allow_animated: number;
  watermark_text: string;
}

export async function allBuckets(db: Queryable): Promise<BucketPolicy[]> {
  const rows = await select<BucketRow>(db, "SELECT * FROM buckets ORDER BY name");
  return rows.map((r) =>
    create(BucketPolicySchema, {
      bucket: r.name,
      allowedContentTypes: typeof r.allowed_content_types === "string" ? JSON.parse(r.allowed_content_types) : r.allowed_content_types,
      maxBytes: BigInt(r.max_bytes),
      minWidth: r.min_width,
      minHeight: r.min_height,
      maxWidth: r.max_width,
      maxHeight: r.max_height,
      maxCountPerPost: r.max_count_per_post,
      allowAnimated: r.allow_animated === 1,
      watermarkText: r.watermark_text,
    }),
  );
}

export async function upsertBucket(db: Queryable, p: BucketPolicy): Promise<void> {
  await write(
    db,
    `INSERT INTO buckets (name, allowed_content_types, max_bytes, min_width, min_height, max_width, max_height, max_count_per_post, allow_animated, watermark_text, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, CURRENT_TIMESTAMP(3))
     ON DUPLICATE KEY UPDATE allowed_content_types = VALUES(allowed_content_types), max_bytes = VALUES(max_bytes),
       min_width = VALUES(min_width), min_height = VALUES(min_height), max_width = VALUES(max_width), max_height = VALUES(max_height),
       max_count_per_post = VALUES(max_count_per_post), allow_animated = VALUES(allow_animated), watermark_text = VALUES(watermark_text),
       updated_at = VALUES(updated_at)`,
    [p.bucket, JSON.stringify(p.allowedContentTypes), p.maxBytes, p.minWidth, p.minHeight, p.maxWidth, p.maxHeight, p.maxCountPerPost, p.allowAnimated ? 1 : 0, p.watermarkText],
  );
}

export async function insertMedia(db: Queryable, m: MediaRecord): Promise<void> {
  await write(
    db,
    `INSERT INTO media (id, owner_id, bucket, content_type, width, height, size_bytes, blurhash, content_hash, animated, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [m.id, m.ownerId, m.bucket, m.contentType, m.width, m.height, m.sizeBytes, m.blurhash, m.contentHash, m.animated ? 1 : 0, m.createdAt],
  );
  await write(
    db,
    "INSERT INTO media_variants (media_id, name, needle_key, cookie, content_type, width, height, size_bytes) VALUES ?",
    [m.variants.map((v) => [m.id, v.name, v.needleKey, v.cookie, v.contentType, v.width, v.height, v.sizeBytes])],
  );
}

/** Media rows (deleted ones included, flagged) with their variants. */
export async function mediaByIds(db: Queryable, ids: readonly bigint[]): Promise<Map<bigint, MediaRecord>> {
  if (ids.length === 0) return new Map();
  const rows = await select<{
    id: string;
    owner_id: string;
    bucket: string;
    content_type: string;
    width: number;
    height: number;
    size_bytes: string;
    blurhash: string;
    content_hash: string;
    animated: number;
    created_at: Date;
    deleted_at: Date | null;
  }>(db, "SELECT * FROM media WHERE id IN (?)", [ids]);
  const variants = await select<{ media_id: string; name: string; needle_key: string; cookie: number; content_type: string; width: number; height: number; size_bytes: string }>(
    db,
    "SELECT * FROM media_variants WHERE media_id IN (?)",
    [ids],
  );
  const byMedia = new Map<string, VariantLocation[]>();
  for (const v of variants) {
    const list = byMedia.get(v.media_id) ?? byMedia.set(v.media_id, []).get(v.media_id)!;
    list.push({ name: v.name, needleKey: BigInt(v.needle_key), cookie: Number(v.cookie), contentType: v.content_type, width: v.width, height: v.height, sizeBytes: Number(v.size_bytes) });
  }
  return new Map(
    rows.map((r) => [
      BigInt(r.id),
      {
        id: BigInt(r.id),
        ownerId: BigInt(r.owner_id),
        bucket: r.bucket,
        contentType: r.content_type,
        width: r.width,
        height: r.height,
        sizeBytes: Number(r.size_bytes),
        blurhash: r.blurhash,
        contentHash: r.content_hash,
        animated: r.animated === 1,
        createdAt: r.created_at,
        deleted: r.deleted_at !== null,
        variants: byMedia.get(r.id) ?? [],
      },
    ]),
  );
}

/** Hides a media item; true if it was visible. */
export async function markDeleted(db: Queryable, id: bigint): Promise<boolean> {
  return (await write(db, "UPDATE media SET deleted_at = CURRENT_TIMESTAMP(3) WHERE id = ? AND deleted_at IS NULL", [id])) === 1;
}

/** Needle keys of deleted media whose needles have not been removed yet. */
export async function deletedNeedles(db: Queryable, limit: number): Promise<Array<{ mediaId: bigint; needleKey: bigint }>> {
  const rows = await select<{ media_id: string; needle_key: string }>(
    db,
    "SELECT v.media_id, v.needle_key FROM media_variants v JOIN media m ON m.id = v.media_id WHERE m.deleted_at IS NOT NULL LIMIT ?",
    [limit],
  );
  return rows.map((r) => ({ mediaId: BigInt(r.media_id), needleKey: BigInt(r.needle_key) }));
}

/** Every variant's needle key with its media id (orphan scan). */
export async function allNeedleKeys(db: Queryable): Promise<Map<bigint, bigint>> {
  const rows = await select<{ media_id: string; needle_key: string }>(db, "SELECT media_id, needle_key FROM media_variants");
  return new Map(rows.map((r) => [BigInt(r.needle_key), BigInt(r.media_id)]));
}

/** Removes media rows (and their variant rows) for good. */
export async function purgeMedia(db: Queryable, ids: readonly bigint[]): Promise<void> {
  if (ids.length === 0) return;
  await write(db, "DELETE FROM media_variants WHERE media_id IN (?)", [ids]);
  await write(db, "DELETE FROM media WHERE id IN (?)", [ids]);
}

/** The store as domain/model.ts declares it. */
export const mediaStore: MediaStore = { allBuckets, upsertBucket, insertMedia, mediaByIds, markDeleted, deletedNeedles, allNeedleKeys, purgeMedia };
