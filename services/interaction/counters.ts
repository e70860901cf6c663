/**
 * Counters in Redis, ordered by version. Each post's key `pc:<id>` holds
 * "v:likes:comments:refers:drops" (copies written before drops were counted lack the
 * last part and read as 0 drops), where v is the version of post_counts they came from (one
 * string per post, so a page of 100 posts is a single MGET). Writers set it
 * after commit with the values and version their transaction produced; readers that
 * miss load from MySQL and set it the same way. A set only applies when its version is
 * newer than the stored one (one Lua call), so concurrent writers and readers can come
 * in any order and Redis still ends at the latest committed counts: exact, not
 * eventually exact. Posts that changed are remembered in `dirty` for the reconcile job,
 * which also keeps its sweep position here (`reconcile:after`, shared by replicas).
 */
import { Pipeline, type Redis } from "#kit/redis.ts";
import { countsOf, type Counts } from "./store.ts";
import type { Queryable } from "#kit/mysql.ts";

// KEYS[1] counter key; ARGV likes, comments, refers, v, ttl seconds, "same" or "" (to
// also replace a copy of the same version: the reconcile job's repair of drift that
// kept its version; a newer copy still wins), drops received.
const setIfNewer = `
local cur = redis.call('GET', KEYS[1])
local curv = -1
if cur then curv = tonumber(string.match(cur, '^(%d+)')) end
local v = tonumber(ARGV[4])
if v > curv or (ARGV[6] == 'same' and v == curv) then
  redis.call('SET', KEYS[1], ARGV[4] .. ':' .. ARGV[1] .. ':' .. ARGV[2] .. ':' .. ARGV[3] .. ':' .. ARGV[7], 'EX', tonumber(ARGV[5]))
  return 1
end
return 0
`;

type CounterRedis = Redis & { oasisSetCounts(key: string, l: string, c: string, r: string, v: string, ttl: number, same: "same" | "", d: string): Promise<number> };

function parse(value: string): Counts {
  const [v, l, c, r, d] = value.split(":");
  return { v: BigInt(v!), likes: BigInt(l!), comments: BigInt(c!), refers: BigInt(r!), dropsReceived: BigInt(d ?? 0) };
}

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
    const pipe = new Pipeline(this.redis);
    this.publishIn(pipe, postId, c);
    await pipe.exec();
  }

  /** As `publish`, queued on `pipeline` (two commands) to go out with the caller's others. */
  publishIn(pipeline: Pipeline, postId: bigint, c: Counts): void {
    (pipeline.batch as unknown as CounterRedis).oasisSetCounts(`pc:${postId}`, String(c.likes), String(c.comments), String(c.refers), String(c.v), ttlSeconds, "", String(c.dropsReceived));
    pipeline.batch.sadd("dirty", String(postId));
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
        const { likes, comments, refers, dropsReceived } = parse(v);
        out.set(id, { likes, comments, refers, dropsReceived });
      }
    });
    if (missing.length) {
      const stored = await countsOf(this.db, missing);
      const fill = this.redis.pipeline();
      for (const id of missing) {
        const c = stored.get(id) ?? { likes: 0n, comments: 0n, refers: 0n, dropsReceived: 0n, v: 0n };
        out.set(id, c);
        (fill as unknown as CounterRedis).oasisSetCounts(`pc:${id}`, String(c.likes), String(c.comments), String(c.refers), String(c.v), ttlSeconds, "", String(c.dropsReceived));
      }
      await fill.exec();
    }
    return out;
  }

  /** Takes up to `n` posts with recent changes (for the reconcile job). */
  async takeDirty(n: number): Promise<bigint[]> {
    return (await this.redis.spop("dirty", n)).map(BigInt);
  }

  /**
   * The Redis copies of `ids` that exist, with their versions, without filling the
   * missing ones: the reconcile sweep walks every post, and filling would load the whole
   * table into Redis.
   */
  async cached(ids: readonly bigint[]): Promise<Map<bigint, Counts>> {
    const out = new Map<bigint, Counts>();
    if (ids.length === 0) return out;
    const values = await this.redis.mget(...ids.map((id) => `pc:${id}`));
    ids.forEach((id, i) => values[i] && out.set(id, parse(values[i]!)));
    return out;
  }

  /**
   * Replaces a post's Redis copy with `c` (the reconcile job's recount) unless the copy
   * is newer than `c`; true if it was replaced.
   */
  async repair(postId: bigint, c: Counts): Promise<boolean> {
    return (await this.redis.oasisSetCounts(`pc:${postId}`, String(c.likes), String(c.comments), String(c.refers), String(c.v), ttlSeconds, "same", String(c.dropsReceived))) === 1;
  }

  /** Where the reconcile sweep stopped: the last post id it checked (0: at the start). */
  async sweepPosition(): Promise<bigint> {
    return BigInt((await this.redis.get("reconcile:after")) ?? "0");
  }

  async setSweepPosition(afterId: bigint): Promise<void> {
    await this.redis.set("reconcile:after", String(afterId));
  }
}
