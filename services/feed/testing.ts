/**
 * The feed's Redis state as tests need to see it: what fan-out actually stored. A feed
 * read cannot show this, because a read may rebuild a timeline from its sources and so
 * hide a push that was missed (or a post that was never removed).
 */
import { Redis } from "ioredis";
import type { TestMesh } from "#kit/testing/mesh.ts";

export interface FeedRedis {
  /** Post ids stored in `reader`'s home timeline, newest first. */
  home(reader: bigint): Promise<bigint[]>;
  /** For each post id, how many of `readers` hold it in their home timeline. */
  holders(readers: readonly bigint[], postIds: readonly bigint[]): Promise<number[]>;
  /** Authors marked as above the fan-out threshold. */
  celebs(): Promise<bigint[]>;
  /** Sets when `reader` last read their home feed (ms), as if they had read then. */
  setLastRead(reader: bigint, ms: number): Promise<void>;
  /** (post, home timeline) pairs ever pushed (timelines.ts `delivered:home`). */
  homeDeliveries(): Promise<number>;
  close(): void;
}

const newestFirst = (a: bigint, b: bigint) => (a > b ? -1 : a < b ? 1 : 0);

/** Opens the feed's keys of a test mesh (`<namespace>:oasis:feed:`). */
export function feedRedis(mesh: TestMesh): FeedRedis {
  const redis = new Redis(mesh.env.OASIS_REDIS_URL ?? "redis://127.0.0.1:6379", { keyPrefix: `${mesh.namespace}:oasis:feed:` });
  return {
    async home(reader) {
      return (await redis.zrange(`ht:${reader}`, 0, "-1")).map(BigInt).sort(newestFirst);
    },
    async holders(readers, postIds) {
      const counts = postIds.map(() => 0);
      if (postIds.length === 0) return counts;
      const pipe = redis.pipeline();
      for (const r of readers) pipe.zmscore(`ht:${r}`, ...postIds.map(String));
      for (const [err, scores] of (await pipe.exec())!) {
        if (err) throw err;
        (scores as Array<string | null>).forEach((s, i) => s !== null && counts[i]!++);
      }
      return counts;
    },
    async celebs() {
      return (await redis.smembers("celebs")).map(BigInt);
    },
    async setLastRead(reader, ms) {
      await redis.zadd("active", ms, String(reader));
    },
    async homeDeliveries() {
      return Number((await redis.get("delivered:home")) ?? 0);
    },
    close: () => redis.disconnect(),
  };
}
