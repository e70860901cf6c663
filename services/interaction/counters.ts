/**
 * Counters in Redis, ordered by version. Each post's key `pc:<id>` holds
 * "v:likes:comments:refers", where v is the version of post_counts they came from (one
 * string per post, so a page of 100 posts is a single MGET). Writers set it
 * after commit with the values and version their transaction produced; readers that
 * miss load from MySQL and set it the same way. A set only applies when its version is
 * newer than the stored one (one Lua call), so concurrent writers and readers can come
 * in any order and Redis still ends at the latest committed counts: exact, not
 * eventually exact. Posts that changed are remembered in `dirty` for the reconcile job.
 */
import type { Redis } from "#kit/redis.ts";
import { countsOf, type Counts } from "./store.ts";
import type { Queryable } from "#kit/mysql.ts";

// KEYS[1] counter key; ARGV likes, comments, refers, v, ttl seconds.
const setIfNewer = `
local cur = redis.call('GET', KEYS[1])
local curv = -1
if cur then curv = tonumber(string.match(cur, '^(%d+)')) end
if tonumber(ARGV[4]) > curv then
  redis.call('SET', KEYS[1], ARGV[4] .. ':' .. ARGV[1] .. ':' .. ARGV[2] .. ':' .. ARGV[3], 'EX', tonumber(ARGV[5]))
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
    const out = new Map<bigint, Omit<Counts, "v">>();
    if (ids.length === 0) return out;
    const values = await this.redis.mget(...ids.map((id) => `pc:${id}`)).catch(() => ids.map(() => null));
    const missing: bigint[] = [];
    ids.forEach((id, i) => {
      const v = values[i];
      if (!v) missing.push(id);
      else {
        const [, l, c, r] = v.split(":");
        out.set(id, { likes: BigInt(l!), comments: BigInt(c!), refers: BigInt(r!) });
      }
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
    const cur = (await this.redis.get(`pc:${postId}`)) ?? "0:0:0:0";
    const [v, , c, r] = cur.split(":");
    await this.redis.set(`pc:${postId}`, `${v}:${likes}:${c}:${r}`);
  }

  /** Drops a post's Redis counters so the next read reloads them. */
  async forget(postId: bigint): Promise<void> {
    await this.redis.del(`pc:${postId}`);
  }
}
