/**
 * Search's request cache, after Elasticsearch's shard request cache: a query's result is
 * kept in this process, keyed by what determines it (the normalized query, the filters,
 * the page size and token, the viewer class), and is valid for one **generation** of
 * what it was computed from. The generation is three parts:
 * - `search:writes` (Redis counter): bumped after every index write (events.ts, the
 *   moderation consumer, reindex), by whichever replica consumed the event;
 * - `search:views` (Redis counter): bumped after every change of the results read model
 *   that events make (a post's snapshot, its flags or visibility, a profile, counters);
 * - the engine's own change token (embedded: the index file and SQLite's
 *   `PRAGMA data_version`, so a write by another process, e.g. the reindex command, is
 *   seen too; Meilisearch: none, `search:writes` tells).
 * Like Elasticsearch's refresh_interval, the generation is read again at most every
 * `refreshMs` (OASIS_SEARCH_REFRESH_MS, default 250 ms): a change is visible to queries
 * within refreshMs plus one Redis round trip, well inside the 1 s freshness contract
 * (a change made by this process's own consumers is visible at once: a bump here also
 * forces the next read). Between reads a hit costs no Redis call at all.
 *
 * Entries: at most `entries` (OASIS_SEARCH_CACHE_ENTRIES, default 10,000; 0 turns the
 * cache off) and `maxBytes` (64 MiB, by the size callers estimate: an anonymous page is
 * ~20 KB encoded, so 10,000 of them would not fit), least recently used dropped first
 * (a Map in insertion order: no LRU library is a dependency), and none older than
 * `maxAgeMs` whatever the generation
 * (what a page holds also comes from owners on a read-model miss and from interaction's
 * counters, which no generation covers). Concurrent misses of one key share one
 * computation (after each invalidation 50 clients asking the same query compute it
 * once). A failed computation is not kept.
 *
 * Values are shared between requests: callers must treat them as immutable. What may
 * be cached is the caller's decision (routes/search-posts.ts, search-users.ts): the
 * whole answer only for anonymous callers, whose answer depends on nothing but the
 * data; for a signed-in viewer only the viewer-independent skeleton (engine hits, loaded
 * snapshots), with blocks, mutes, follows and private accounts applied per request after
 * the cache.
 */
import { Counter } from "prom-client";
import type { Registry } from "prom-client";
import type { Redis } from "#kit/redis.ts";

/** Redis counter bumped after every index write. */
export const writesKey = "search:writes";
/** Redis counter bumped after every read-model change made by an event. */
export const viewsKey = "search:views";
/**
 * Per-query invalidation (design note 32): a query's own counter, bumped when a new
 * post could match it (events.ts). `tag` is queryTag of the query's key.
 */
export const queryGenKey = (tag: string) => `search:q:${tag}`;
/**
 * Sorted set of the queries whose pages may be cached (member: the query's key,
 * routes/cached.ts queryKey; score: ms it was last registered). A process registers a
 * query before it reads the query's counter for a computation, so a consumer that
 * reads the set after its write and bumps the matching members never misses a page
 * computed before that write.
 */
export const liveKey = "search:live";
/** A registration older than this may be re-done, ms. */
const reregisterMs = 10_000;
/**
 * Members registered within this are live for consumers, ms: a page lives at most 30 s
 * after a computation whose registration was at most reregisterMs (plus a refresh) old.
 */
export const liveWindowMs = 60_000;

/** The short name of a query key in Redis keys (its hash). */
export function queryTag(member: string): string {
  return Bun.hash(member).toString(36);
}

/** What a cached value depends on besides the global generation: one query's own counter. */
export interface QueryDep {
  /** queryTag(member). */
  readonly tag: string;
  /** The query's key (routes/cached.ts queryKey). */
  readonly member: string;
}

export interface RequestCacheOptions {
  /** Entries kept at most; 0 disables the cache (every call computes). */
  readonly entries: number;
  /** Least time between two reads of the generation, ms. */
  readonly refreshMs: number;
  /** Oldest an entry may be whatever the generation, ms. Default 30 s. */
  readonly maxAgeMs?: number;
  /**
   * The engine's change token without this process's own writes (embedded: the live file
   * and data_version), for entries with a QueryDep: their queries' counters tell this
   * process's writes apart. Default: the full engine token.
   */
  readonly externalToken?: () => string;
  /** Sum of the entries' estimated sizes held at most, bytes. Default 64 MiB. */
  readonly maxBytes?: number;
  /** Registry for `search_request_cache_total{result}` (hit, shared, miss). */
  readonly registry?: Registry;
}

interface Entry {
  readonly gen: string;
  readonly atMs: number;
  readonly value: unknown;
  /** Estimated bytes held. */
  readonly size: number;
}

/** Size assumed for a value whose caller gives no estimate, bytes. */
const defaultSize = 1024;

/**
 * The Redis part of a query's generation (`<search:writes>:<search:views>:<search:q:tag>`),
 * as the edge compares it (page-path.ts).
 */
export function countersOf(gen: string): string {
  const [w, v, q] = gen.split(":");
  return `${w}:${v}:${q}`;
}

/** Hit and miss counts since start (also exported as a Prometheus counter). */
export interface CacheStats {
  hits: number;
  /** Joined a computation already running for the same key and generation. */
  shared: number;
  misses: number;
}

export class RequestCache {
  private readonly map = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<unknown>>();
  private gen = "";
  /** The counters' values of the last read, and the external token read with them. */
  private counters = { w: "0", v: "0", ext: "" };
  /** Queries this process computed for: their counter's value as last read, last use, last registration. */
  private readonly queries = new Map<string, { member: string; q: string; usedMs: number; liveMs: number }>();
  private readAtMs = Number.NEGATIVE_INFINITY;
  private reading: Promise<string> | undefined;
  /** Bumps made by this process; a read that a bump overtook is not trusted for refreshMs. */
  private bumps = 0;
  private readonly maxAgeMs: number;
  private readonly maxBytes: number;
  private held = 0;
  /** The counter's three children, bound once (a labelled inc looks its labels up every time). */
  private readonly counted: Record<"hit" | "shared" | "miss", { inc(): void }> | undefined;
  readonly stats: CacheStats = { hits: 0, shared: 0, misses: 0 };

  /**
   * `redis`: search's Redis (the generation counters); `engineToken`: the engine's change
   * token (SearchEngine.changeToken), read with the counters.
   */
  constructor(
    private readonly redis: Redis,
    private readonly engineToken: () => string,
    private readonly opts: RequestCacheOptions,
  ) {
    this.maxAgeMs = opts.maxAgeMs ?? 30_000;
    this.maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
    const counter = opts.registry
      ? new Counter({ name: "search_request_cache_total", help: "Search request cache lookups by result: hit, shared (joined a computation in flight), miss.", labelNames: ["result"], registers: [opts.registry] })
      : undefined;
    this.counted = counter && { hit: counter.labels("hit"), shared: counter.labels("shared"), miss: counter.labels("miss") };
  }

  /** False when OASIS_SEARCH_CACHE_ENTRIES is 0. */
  get enabled(): boolean {
    return this.opts.entries > 0;
  }

  /** Entries held now. */
  get size(): number {
    return this.map.size;
  }

  /**
   * The current generation: Redis's two counters and the engine's token, read again
   * when the last read is `refreshMs` old (one MGET; concurrent callers share it).
   * Throws if Redis does not answer (the caller's search fails as any Redis read would).
   */
  async generation(): Promise<string> {
    if (performance.now() - this.readAtMs < this.opts.refreshMs) return this.gen;
    this.reading ??= (async () => {
      try {
        const started = performance.now();
        const bumps = this.bumps;
        const now = Date.now();
        // Queries unused for a window are forgotten (registered again when next used).
        for (const [tag, e] of this.queries) if (now - e.usedMs > liveWindowMs) this.queries.delete(tag);
        const tags = [...this.queries.keys()];
        const stale = tags.filter((t) => now - this.queries.get(t)!.liveMs > reregisterMs);
        const pipe = this.redis.pipeline();
        // Registrations before the reads (one connection: in this order).
        if (stale.length) pipe.zadd(liveKey, ...stale.flatMap((t) => [now, this.queries.get(t)!.member]));
        pipe.mget(writesKey, viewsKey, ...tags.map(queryGenKey));
        const res = await pipe.exec();
        for (const [err] of res!) if (err) throw err; // a registration that failed must not count
        const [w, v, ...qs] = res!.at(-1)![1] as Array<string | null>;
        for (const t of stale) this.queries.get(t)!.liveMs = now;
        tags.forEach((t, i) => {
          const e = this.queries.get(t);
          if (e) e.q = qs[i] ?? "0";
        });
        this.counters = { w: w ?? "0", v: v ?? "0", ext: (this.opts.externalToken ?? this.engineToken)() };
        this.gen = `${this.counters.w}:${this.counters.v}:${this.engineToken()}`;
        if (bumps === this.bumps) this.readAtMs = started;
        return this.gen;
      } finally {
        this.reading = undefined;
      }
    })();
    return this.reading;
  }

  /**
   * The generation of a value that depends on `dep`'s query: the global counters, the
   * query's own counter and the external engine token. A query not seen before is
   * registered (liveKey) and its counter read first, in one round trip.
   */
  private async generationFor(dep: QueryDep): Promise<string> {
    await this.generation();
    let e = this.queries.get(dep.tag);
    if (!e) {
      const now = Date.now();
      const res = await this.redis.pipeline().zadd(liveKey, now, dep.member).get(queryGenKey(dep.tag)).exec();
      for (const [err] of res!) if (err) throw err;
      const q = res![1]![1];
      e = this.queries.get(dep.tag) ?? { member: dep.member, q: (q as string | null) ?? "0", usedMs: now, liveMs: now };
      this.queries.set(dep.tag, e);
    }
    e.usedMs = Date.now();
    return `${this.counters.w}:${this.counters.v}:${e.q}:${this.counters.ext}`;
  }

  /**
   * The value cached for `key` at the current generation, or `compute()`'s (kept, and
   * shared with concurrent callers of the same key). With the cache off, `compute()`.
   * `compute` hears the generation it computes for (countersOf tells its Redis part).
   * `sizeOf` estimates what a value holds, bytes (default 1 KiB). `opts.dep`: the value
   * depends on one query (its counter is part of the generation, and the query is
   * registered for consumers, see liveKey); `opts.maxAgeMs` caps this value's age below
   * the cache's own cap.
   */
  async get<T>(key: string, compute: (gen: string) => Promise<T>, sizeOf?: (value: T) => number, opts: { dep?: QueryDep; maxAgeMs?: number } = {}): Promise<T> {
    if (!this.enabled) return compute("");
    const gen = opts.dep ? await this.generationFor(opts.dep) : await this.generation();
    const hit = this.map.get(key);
    const now = performance.now();
    if (hit && hit.gen === gen && now - hit.atMs < Math.min(this.maxAgeMs, opts.maxAgeMs ?? Infinity)) {
      this.map.delete(key);
      this.map.set(key, hit);
      this.count("hit");
      return hit.value as T;
    }
    const pendingKey = `${gen}\u0000${key}`;
    const running = this.pending.get(pendingKey);
    if (running) {
      this.count("shared");
      return running as Promise<T>;
    }
    this.count("miss");
    const p = compute(gen).then(
      (value) => {
        this.pending.delete(pendingKey);
        this.drop(key);
        const size = sizeOf ? sizeOf(value) : defaultSize;
        this.map.set(key, { gen, atMs: now, value, size });
        this.held += size;
        while (this.map.size > this.opts.entries || (this.held > this.maxBytes && this.map.size > 1)) this.drop(this.map.keys().next().value!);
        return value;
      },
      (err) => {
        this.pending.delete(pendingKey);
        throw err;
      },
    );
    this.pending.set(pendingKey, p);
    return p;
  }

  /** Bytes held now (the entries' estimates). */
  get bytes(): number {
    return this.held;
  }

  private drop(key: string): void {
    const e = this.map.get(key);
    if (!e) return;
    this.map.delete(key);
    this.held -= e.size;
  }

  /** After an index write: bumps `search:writes` (every replica sees it within refreshMs; this one at once). */
  async bumpWrites(): Promise<void> {
    await this.redis.incr(writesKey);
    this.bumps++;
    this.readAtMs = Number.NEGATIVE_INFINITY;
  }

  /**
   * After a new post that changes no cached page but those of the queries it may match:
   * bumps the counter of every live query (liveKey) `matches` accepts, in one pipeline,
   * and forgets registrations older than ten windows. `matches` gets the query's key.
   * Returns how many were bumped. Matching costs a few us per live query, so with more
   * than `maxLive` of them it bumps `search:writes` instead (every page ends) and
   * returns -1.
   */
  async bumpQueries(matches: (member: string) => boolean, maxLive = 5_000): Promise<number> {
    const now = Date.now();
    const members = await this.redis.zrangebyscore(liveKey, now - liveWindowMs, "+inf");
    if (members.length > maxLive) {
      await this.bumpWrites();
      return -1;
    }
    const hit = members.filter(matches);
    const pipe = this.redis.pipeline();
    for (const m of hit) pipe.incr(queryGenKey(queryTag(m)));
    pipe.zremrangebyscore(liveKey, "-inf", now - 10 * liveWindowMs);
    const res = await pipe.exec();
    for (const [err] of res ?? []) if (err) throw err;
    this.bumps++;
    this.readAtMs = Number.NEGATIVE_INFINITY;
    return hit.length;
  }

  /** After a read-model change made by an event: bumps `search:views`. */
  async bumpViews(): Promise<void> {
    await this.redis.incr(viewsKey);
    this.bumps++;
    this.readAtMs = Number.NEGATIVE_INFINITY;
  }

  private count(result: "hit" | "shared" | "miss"): void {
    this.stats[result === "hit" ? "hits" : result === "shared" ? "shared" : "misses"]++;
    this.counted?.[result].inc();
  }
}
