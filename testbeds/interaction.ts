/**
 * Test access to interaction's own stores in a test mesh namespace, for tests that
 * check counters against the rows they count or simulate drift behind the service's
 * back: its MySQL database and its Redis keys.
 */
import { Redis } from "ioredis";
import { connectPool, select, type Pool } from "#kit/mysql.ts";

export interface CountValues {
  readonly likes: bigint;
  readonly comments: bigint;
  readonly refers: bigint;
}

export interface InteractionStores {
  readonly db: Pool;
  readonly redis: Redis;
  /** The full Redis key of interaction's key `key` (e.g. `pc:<post>`, `dirty`). */
  key(key: string): string;
  /** The counters recounted from likes, live comments and refers: the truth. */
  recount(postId: bigint): Promise<CountValues>;
  /** The post's post_counts row (zeros if absent). */
  stored(postId: bigint): Promise<CountValues>;
  close(): Promise<void>;
}

export function openInteractionStores(namespace: string): InteractionStores {
  const db = connectPool(process.env.OASIS_MYSQL_URL ?? "mysql://root@127.0.0.1:3306", `oasis_${namespace}_interaction`);
  const redis = new Redis(process.env.OASIS_REDIS_URL ?? "redis://127.0.0.1:6379");
  const values = (r: { likes: string; comments: string; refers: string } | undefined): CountValues => ({
    likes: BigInt(r?.likes ?? 0),
    comments: BigInt(r?.comments ?? 0),
    refers: BigInt(r?.refers ?? 0),
  });
  return {
    db,
    redis,
    key: (key) => `${namespace}:oasis:interaction:${key}`,
    async recount(postId) {
      const [r] = await select<{ likes: string; comments: string; refers: string }>(
        db,
        `SELECT (SELECT COUNT(*) FROM likes WHERE post_id = ?) AS likes,
                (SELECT COUNT(*) FROM comments WHERE post_id = ? AND deleted_at IS NULL) AS comments,
                (SELECT COUNT(*) FROM refers WHERE post_id = ?) AS refers`,
        [postId, postId, postId],
      );
      return values(r);
    },
    async stored(postId) {
      const [r] = await select<{ likes: string; comments: string; refers: string }>(db, "SELECT likes, comments, refers FROM post_counts WHERE post_id = ?", [postId]);
      return values(r);
    },
    async close() {
      redis.disconnect();
      await db.end();
    },
  };
}
