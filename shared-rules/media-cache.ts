/**
 * Media's cache of live media and of its bucket policies (under media's Redis key prefix),
 * and the read post's create makes of it without a hop (services/post/domain/posts.ts,
 * OASIS_POST_MEDIA_CACHE; design note 60), as interaction reads post's cache
 * (shared-rules/post-cache.ts, note 57). Media owns both entries:
 * - `media:<id>` (kit/cache.ts VersionedCache naming, version key `media:v:<id>`): the
 *   Media message of a live item as BatchGetMedia answers it. Media writes it through
 *   after an upload commits and before UploadMedia answers (`put`, which fences older
 *   loaders), fills it from MySQL reads under the version fence, and drops it (bumping
 *   its version) after a delete or a purge commits and before it answers. Media rows never
 *   change otherwise, so an entry is what BatchGetMedia would answer for that id, and a
 *   deleted item has no entry.
 * - `policy:<bucket>`: the bucket's BucketPolicy as media's policy cache last read it from
 *   MySQL (media writes it at each reload, at most every 5 s while it is asked, and at
 *   once after UpdateBucketPolicy), kept `POLICY_CACHE_TTL_S`: as fresh as media's own
 *   policy cache, which BatchGetMedia answers from.
 * A reader that finds an entry missing asks media (BatchGetMedia), whose answer is the
 * truth and whose reads fill the entries for the next call.
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { VersionedCache } from "#kit/cache.ts";
import { redisKeyPrefixOf } from "#kit/config.ts";
import type { Redis } from "#kit/redis.ts";
import { BucketPolicySchema, MediaSchema, type BucketPolicy, type Media } from "#gen/oasis/media/v1/media_pb.ts";

/** Cache entry name (kit/cache.ts VersionedCache) and TTL (s) of a live media item: rows change only by deletion, which drops the entry. */
export const MEDIA_CACHE_ENTRY = "media";
export const MEDIA_CACHE_TTL_S = 7 * 24 * 3600;
/** Seconds a written bucket policy is kept: past it a reader asks media, whose next reload writes it again. */
export const POLICY_CACHE_TTL_S = 60;

/** The cached value of a live media item: its Media message's binary encoding. */
export function encodeCachedMedia(m: Media): Buffer {
  return Buffer.from(toBinary(MediaSchema, m));
}

/** The Redis key (without media's prefix) of a bucket's cached policy. */
export function policyKey(bucket: string): string {
  return `policy:${bucket}`;
}

/** The cached value of a bucket policy: its BucketPolicy message's binary encoding. */
export function encodeCachedPolicy(p: BucketPolicy): Buffer {
  return Buffer.from(toBinary(BucketPolicySchema, p));
}

/** What `peekMedia` found: every asked item, and the policy asked for (if one was). */
export interface CachedMedia {
  readonly media: Map<bigint, Media>;
  readonly policy?: BucketPolicy;
}

/**
 * The live media `ids` and, when `bucket` is given, that bucket's policy, from media's
 * cache in one round trip (one MGET); undefined unless every one of them is cached (an
 * absent item may be deleted, unknown or only not cached: the caller then asks
 * media.BatchGetMedia). `redis` must be a connection with media's key prefix
 * (`mediaRedisPrefix`). Redis errors read as not cached.
 */
export async function peekMedia(redis: Redis, ids: readonly bigint[], bucket?: string): Promise<CachedMedia | undefined> {
  const keys = [...new Set(ids)].map(String);
  // Auto-pipelined (kit/redis.ts): the MGET and the GET leave together, one round trip.
  const [found, policy] = await Promise.all([
    new VersionedCache(redis, MEDIA_CACHE_ENTRY, MEDIA_CACHE_TTL_S).peek(keys),
    bucket === undefined ? undefined : redis.getBuffer(policyKey(bucket)).catch(() => null),
  ]);
  if (found.size < keys.length || policy === null) return undefined;
  const media = new Map([...found].map(([k, v]) => [BigInt(k), fromBinary(MediaSchema, v)]));
  return policy === undefined ? { media } : { media, policy: fromBinary(BucketPolicySchema, policy) };
}

/** Media's Redis key prefix in namespace `ns` (kit/config.ts baseConfig's redisKeyPrefix for "media"). */
export function mediaRedisPrefix(ns: string): string {
  return redisKeyPrefixOf("media", ns);
}
