/**
 * What each viewer did (liked, referred), for marking feed items: per user, the ids of
 * the posts they liked and referred to, cached in Redis as packed 64-bit ids (versioned
 * cache-aside, kit/cache.ts) and invalidated when they like, unlike or refer. A page of
 * 100 posts costs one Redis round trip. The newest 10,000 of each are kept; older ones
 * are read from MySQL when asked about.
 */
import { VersionedCache } from "#kit/cache.ts";
import type { Pool } from "#kit/mysql.ts";
import type { Pipeline, Redis } from "#kit/redis.ts";
import { select } from "#kit/mysql.ts";
import { likedBy, referredBy } from "./store.ts";

const keep = 10_000;

function pack(ids: readonly bigint[]): Buffer {
  return Buffer.from(BigInt64Array.from(ids).buffer);
}

function unpack(buf: Buffer): Set<bigint> {
  const copy = new Uint8Array(buf.byteLength);
  copy.set(buf);
  return new Set(new BigInt64Array(copy.buffer));
}

export class ViewerStates {
  private readonly cache: VersionedCache;

  constructor(
    redis: Redis,
    private readonly db: Pool,
  ) {
    this.cache = new VersionedCache(redis, "vs", 3600);
  }

  /** liked/referred flags of `userId` for `postIds`. */
  async get(userId: bigint, postIds: readonly bigint[]): Promise<Map<bigint, { liked: boolean; referred: boolean }>> {
    const keys = [`l:${userId}`, `r:${userId}`];
    const got = await this.cache.getMany(keys, async () => {
      const [liked, referred] = await Promise.all([likedBy(this.db, userId, keep + 1), referredBy(this.db, userId, keep + 1)]);
      return new Map([
        [keys[0]!, pack(liked.slice(0, keep))],
        [keys[1]!, pack(referred.slice(0, keep))],
      ]);
    });
    const liked = unpack(got.get(keys[0]!)!);
    const referred = unpack(got.get(keys[1]!)!);
    const out = new Map(postIds.map((id) => [id, { liked: liked.has(id), referred: referred.has(id) }]));
    // Beyond the cached window: ask MySQL about the ids that are older than it.
    const oldest = (s: Set<bigint>) => (s.size >= keep ? [...s].reduce((a, b) => (a < b ? a : b)) : undefined);
    const [lo, ro] = [oldest(liked), oldest(referred)];
    const olderLiked = lo === undefined ? [] : postIds.filter((id) => id < lo);
    const olderReferred = ro === undefined ? [] : postIds.filter((id) => id < ro);
    if (olderLiked.length) {
      for (const r of await select<{ post_id: string }>(this.db, "SELECT post_id FROM likes WHERE user_id = ? AND post_id IN (?)", [userId, olderLiked])) {
        out.get(BigInt(r.post_id))!.liked = true;
      }
    }
    if (olderReferred.length) {
      for (const r of await select<{ post_id: string }>(this.db, "SELECT post_id FROM refers WHERE user_id = ? AND post_id IN (?)", [userId, olderReferred])) {
        out.get(BigInt(r.post_id))!.referred = true;
      }
    }
    return out;
  }

  /** Forget a user's cached states; call after their like/unlike/refer committed. */
  invalidate(userId: bigint): Promise<void> {
    return this.cache.invalidate([`l:${userId}`, `r:${userId}`]);
  }

  /** As `invalidate`, queued on `pipeline` to go out with the caller's other commands. */
  invalidateIn(pipeline: Pipeline, userId: bigint): void {
    this.cache.invalidateIn(pipeline, [`l:${userId}`, `r:${userId}`]);
  }
}
