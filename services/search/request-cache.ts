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

export interface RequestCacheOptions {
  /** Entries kept at most; 0 disables the cache (every call computes). */
  readonly entries: number;
  /** Least time between two reads of the generation, ms. */
  readonly refreshMs: number;
  /** Oldest an entry may be whatever the generation, ms. Default 30 s. */
  readonly maxAgeMs?: number;
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

/** The Redis part of a generation (`<search:writes>:<search:views>`), as the edge compares it (page-path.ts). */
export function countersOf(gen: string): string {
  const [w, v] = gen.split(":");
  return `${w}:${v}`;
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
        const [w, v] = await this.redis.mget(writesKey, viewsKey);
        this.gen = `${w ?? 0}:${v ?? 0}:${this.engineToken()}`;
        if (bumps === this.bumps) this.readAtMs = started;
        return this.gen;
      } finally {
        this.reading = undefined;
      }
    })();
    return this.reading;
  }

  /**
   * The value cached for `key` at the current generation, or `compute()`'s (kept, and
   * shared with concurrent callers of the same key). With the cache off, `compute()`.
   * `compute` hears the generation it computes for (countersOf tells its Redis part).
   * `sizeOf` estimates what a value holds, bytes (default 1 KiB).
   */
  async get<T>(key: string, compute: (gen: string) => Promise<T>, sizeOf?: (value: T) => number): Promise<T> {
    if (!this.enabled) return compute("");
    const gen = await this.generation();
    const hit = this.map.get(key);
    const now = performance.now();
    if (hit && hit.gen === gen && now - hit.atMs < this.maxAgeMs) {
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
