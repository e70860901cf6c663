/**
 * Post's cache of stored posts (`post:<id>` under post's Redis key prefix): the format
 * post writes (services/post/reader.ts PostReader.load) and the one read another service
 * may make of it without a hop (interaction's like and comment check,
 * services/interaction/domain/posts.ts; design note 57). Post owns the entry: it fills it
 * from MySQL on a miss (versioned, kit/cache.ts) and drops it, bumping its version, after
 * every commit that changes the post (update, delete, a takedown or its reversal, an
 * author's suspension or its lifting) and before it answers the write or acks the event.
 * A reader here therefore sees exactly what post.GetPost would read from the same cache
 * at that moment, or nothing.
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { VersionedCache } from "#kit/cache.ts";
import { redisKeyPrefixOf } from "#kit/config.ts";
import type { Redis } from "#kit/redis.ts";
import { PostSchema, type Post } from "#gen/oasis/post/v1/post_pb.ts";

/** Cache entry name and TTL (s) of a stored post (kit/cache.ts VersionedCache naming). */
export const POST_CACHE_ENTRY = "post";
export const POST_CACHE_TTL_S = 3600;

/** A post as post stores it: deleted posts are kept (as tombstones in the cache). */
export interface CachedPost {
  readonly deleted: boolean;
  readonly post: Post;
}

/** The cached value: one byte (1 = deleted, 0 = live), then the Post message's binary encoding. */
export function encodeCachedPost(p: CachedPost): Buffer {
  return Buffer.concat([Buffer.from([p.deleted ? 1 : 0]), Buffer.from(toBinary(PostSchema, p.post))]);
}

/** The post of a cached value written by `encodeCachedPost`. */
export function decodeCachedPost(value: Buffer): CachedPost {
  return { deleted: value[0] === 1, post: fromBinary(PostSchema, value.subarray(1)) };
}

/**
 * The stored post `postId` from post's cache (deleted ones with `deleted` set); undefined
 * when it is not cached (never loaded here: the caller then asks post.GetPost, which fills
 * the entry). `redis` must be a connection with post's key prefix (`postRedisPrefix`).
 * Redis errors read as not cached.
 */
export async function peekPost(redis: Redis, postId: bigint): Promise<CachedPost | undefined> {
  const key = String(postId);
  const value = (await new VersionedCache(redis, POST_CACHE_ENTRY, POST_CACHE_TTL_S).peek([key])).get(key);
  return value && decodeCachedPost(value);
}

/** Post's Redis key prefix in namespace `ns` (kit/config.ts baseConfig's redisKeyPrefix for "post"). */
export function postRedisPrefix(ns: string): string {
  return redisKeyPrefixOf("post", ns);
}
