/**
 * Counters in Redis, ordered by version. Each post's hash `pc:<id>` holds likes,
 * comments, refers and `v`, the version of post_counts they came from. Writers set it
 * after commit with the values and version their transaction produced; readers that
 * miss load from MySQL and set it the same way. A set only applies when its version is
 * newer than the stored one (one Lua call), so concurrent writers and readers can come
 * in any order and Redis still ends at the latest committed counts: exact, not
 * eventually exact. Posts that changed are remembered in `dirty` for the reconcile job.
 */
import type { Redis } from "#kit/redis.ts";
import { countsOf, type Counts } from "./store.ts";
import type { Queryable } from "#kit/mysql.ts";

// KEYS[1] hash; ARGV likes, comments, refers, v, ttl seconds.
const setIfNewer = `
local cur = tonumber(redis.call('HGET', KEYS[1], 'v') or '-1')
if tonumber(ARGV[4]) > cur then
  redis.call('HSET', KEYS[1], 'l', ARGV[1], 'c', ARGV[2], 'r', ARGV[3], 'v', ARGV[4])
  redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
  return 1
end
return 0
`;

type CounterRedis = Redis & { oasisSetCounts(key: string, l: string, c: string, r: string, v: string, ttl: number): Promise<number> };

const ttlSeconds = 7 * 24 * 3600;

export class Counters {
  private readonly redis: CounterRedis;

  constructor(
    redis: Redis,
    private readonly db: Queryable,
  ) {
    if (!("oasisSetCounts" in redis)) redis.defineCommand("oasisSetCounts", { numberOfKeys: 1, lua: setIfNewer });
    this.redis = redis as CounterRedis;
  }

  /** Records committed counters (after the transaction that produced them). */
  async publish(postId: bigint, c: Counts): Promise<void> {
    const pipe = this.redis.pipeline();
    (pipe as unknown as CounterRedis).oasisSetCounts(`pc:${postId}`, String(c.likes), String(c.comments), String(c.refers), String(c.v), ttlSeconds);
    pipe.sadd("dirty", String(postId));
    await pipe.exec();
  }

  /** Counters of `ids` (zeros for posts never counted): one round trip when all are cached. */
  async get(ids: readonly bigint[]): Promise<Map<bigint, Omit<Counts, "v">>> {
    const pipe = this.redis.pipeline();
    for (const id of ids) pipe.hmget(`pc:${id}`, "l", "c", "r");
    const res = (await pipe.exec()) ?? [];
    const out = new Map<bigint, Omit<Counts, "v">>();
    const missing: bigint[] = [];
    ids.forEach((id, i) => {
      const [l, c, r] = (res[i]?.[1] as Array<string | null>) ?? [];
      if (l === null || l === undefined) missing.push(id);
      else out.set(id, { likes: BigInt(l), comments: BigInt(c!), refers: BigInt(r!) });
    });
    if (missing.length) {
      const stored = await countsOf(this.db, missing);
      const fill = this.redis.pipeline();
      for (const id of missing) {
        const c = stored.get(id) ?? { likes: 0n, comments: 0n, refers: 0n, v: 0n };
        out.set(id, c);
        (fill as unknown as CounterRedis).oasisSetCounts(`pc:${id}`, String(c.likes), String(c.comments), String(c.refers), String(c.v), ttlSeconds);
      }
      await fill.exec();
    }
    return out;
  }

  /** Takes up to `n` posts with recent changes (for the reconcile job). */
  async takeDirty(n: number): Promise<bigint[]> {
    return (await this.redis.spop("dirty", n)).map(BigInt);
  }

  /** Overwrites a post's Redis counters without version checks (tests simulate drift with it). */
  async corrupt(postId: bigint, likes: bigint): Promise<void> {
    await this.redis.hset(`pc:${postId}`, "l", String(likes));
  }

  /** Drops a post's Redis counters so the next read reloads them. */
  async forget(postId: bigint): Promise<void> {
    await this.redis.del(`pc:${postId}`);
  }
}
