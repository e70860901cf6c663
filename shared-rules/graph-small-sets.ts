/**
 * Graph's cached small relation sets (`rel:<user>` under graph's Redis key prefix): the
 * format graph writes (services/graph/graph-cache.ts GraphCache.smallSets) and the one
 * read another service may make of it without a hop (interaction's like check,
 * services/interaction/domain/posts.ts; design note 53). Graph owns the entry: it loads it,
 * drops it (and bumps its version) after every commit that changes it and before it
 * answers the write, so a reader here sees graph's own answer or nothing.
 */
import { VersionedCache } from "#kit/cache.ts";
import { redisKeyPrefixOf } from "#kit/config.ts";
import type { Redis } from "#kit/redis.ts";

/** The small sets of one user, in the order they are cached. */
export const SMALL_FLAGS = ["requested", "requestedBy", "blocking", "blockedBy", "muting"] as const;
export type SmallFlag = (typeof SMALL_FLAGS)[number];

/** Cache entry name and TTL (s) of the small sets (kit/cache.ts VersionedCache naming). */
export const SMALL_SETS_ENTRY = "rel";
export const SMALL_SETS_TTL_S = 3600;

/** The cached value: JSON lists of user ids (decimal strings) in SMALL_FLAGS order. */
export function encodeSmallSets(sets: ReadonlyMap<string, ReadonlySet<bigint>>): Buffer {
  return Buffer.from(JSON.stringify(SMALL_FLAGS.map((f) => [...(sets.get(f) ?? [])].map(String))));
}

/** The sets of a cached value written by `encodeSmallSets`. */
export function decodeSmallSets(value: Buffer): Map<SmallFlag, Set<bigint>> {
  const lists = JSON.parse(value.toString()) as string[][];
  return new Map(SMALL_FLAGS.map((f, i) => [f, new Set(lists[i]!.map(BigInt))]));
}

/**
 * What `userId` is to `other` by graph's cached small sets: whether `userId` blocks
 * `other`, is blocked by `other`, mutes `other`; undefined when the entry is not cached
 * (it is never loaded here: the caller then asks graph). `redis` must be a connection
 * with graph's key prefix (`graphRedisPrefix`). Redis errors read as not cached.
 */
export async function peekBlocksAndMute(redis: Redis, userId: bigint, other: bigint): Promise<{ blocking: boolean; blockedBy: boolean; muting: boolean } | undefined> {
  const got = await new VersionedCache(redis, SMALL_SETS_ENTRY, SMALL_SETS_TTL_S).peek([String(userId)]);
  const value = got.get(String(userId));
  if (!value) return undefined;
  const sets = decodeSmallSets(value);
  return { blocking: sets.get("blocking")!.has(other), blockedBy: sets.get("blockedBy")!.has(other), muting: sets.get("muting")!.has(other) };
}

/** Graph's Redis key prefix in namespace `ns` (kit/config.ts baseConfig's redisKeyPrefix for "graph"). */
export function graphRedisPrefix(ns: string): string {
  return redisKeyPrefixOf("graph", ns);
}
