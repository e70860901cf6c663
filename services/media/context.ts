/**
 * Media's long-lived state: runtime, the volume store, policies and a small in-memory
 * directory of recently read media (Haystack keeps its directory in memory for the same
 * reason: the byte path should touch the disk once), the keys of needles written by
 * uploads that have not committed yet (the orphan scan must not take them), and the
 * cache in Redis that post reads without a hop (shared-rules/media-cache.ts): live media
 * and bucket policies, written here only.
 */
import { VersionedCache } from "#kit/cache.ts";
import { domainErrors, type DomainErrors } from "#kit/errors.ts";
import type { Redis } from "#kit/redis.ts";
import type { Runtime } from "#kit/runtime.ts";
import { ErrorReasonSchema, type ErrorReason } from "#gen/oasis/media/v1/errors_pb.ts";
import type { BucketPolicy } from "#gen/oasis/media/v1/media_pb.ts";
import type { MediaConfig } from "./config.ts";
import type { MediaStore } from "./domain/model.ts";
import { allBuckets, mediaByIds, mediaStore, toMedia, type MediaRecord } from "./store.ts";
import { encodeCachedMedia, encodeCachedPolicy, MEDIA_CACHE_ENTRY, MEDIA_CACHE_TTL_S, policyKey, POLICY_CACHE_TTL_S } from "../../shared-rules/media-cache.ts";
import type { VolumeStore } from "./volume/volume-store.ts";

/** Media records read recently, by id; deleted ones stay as tombstones so they 404 fast. */
export class MediaDirectory {
  private readonly entries = new Map<bigint, { record: MediaRecord | null; until: number }>();

  /**
   * `cache`: media's entries in Redis (shared-rules/media-cache.ts), filled from what this
   * directory reads from MySQL (never from memory: another replica may have deleted an
   * item this one still remembers), under the version fence a delete bumps.
   */
  constructor(
    private readonly rt: Runtime<MediaConfig>,
    private readonly cache?: VersionedCache,
    private readonly maxEntries = 100_000,
    private readonly missTtlMs = 10_000,
  ) {}

  /** Records for `ids` (absent: unknown), from memory where possible; MySQL reads fill the Redis cache with the live ones. */
  async get(ids: readonly bigint[]): Promise<Map<bigint, MediaRecord>> {
    const now = Date.now();
    const out = new Map<bigint, MediaRecord>();
    const ask: bigint[] = [];
    for (const id of ids) {
      const e = this.entries.get(id);
      if (e && e.until > now) {
        if (e.record) out.set(id, e.record);
      } else ask.push(id);
    }
    if (ask.length) {
      const found = await this.read(ask);
      if (this.entries.size > this.maxEntries) this.entries.clear();
      for (const id of ask) {
        const r = found.get(id);
        // Media rows never change except for deletion, which goes through forget().
        this.entries.set(id, { record: r ?? null, until: r ? Number.POSITIVE_INFINITY : now + this.missTtlMs });
        if (r) out.set(id, r);
      }
    }
    return out;
  }

  /** Drops an id (after delete or purge). */
  forget(id: bigint): void {
    this.entries.delete(id);
  }

  /**
   * `ids` from MySQL; with the cache, the live ones stored in Redis unless a delete bumped
   * an entry's version since it was read before the load (kit/cache.ts refresh).
   */
  private async read(ids: bigint[]): Promise<Map<bigint, MediaRecord>> {
    if (!this.cache) return mediaByIds(this.rt.db, ids);
    let found = new Map<bigint, MediaRecord>();
    await this.cache.refresh(ids.map(String), async (keys) => {
      found = await mediaByIds(this.rt.db, keys.map(BigInt));
      const live = [...found.values()].filter((r) => !r.deleted);
      return new Map(live.map((r) => [String(r.id), encodeCachedMedia(toMedia(r, this.rt.config.publicPrefix))]));
    });
    return found;
  }
}

/**
 * Bucket policies, re-read from MySQL at most every 5 s (operators change them at run
 * time); each read is also written to Redis for post (shared-rules/media-cache.ts).
 */
export class PolicyCache {
  private policies = new Map<string, BucketPolicy>();
  private loadedAt = 0;

  constructor(
    private readonly rt: Runtime<MediaConfig>,
    private readonly redis?: Redis,
  ) {}

  async get(bucket: string): Promise<BucketPolicy | undefined> {
    if (Date.now() - this.loadedAt > 5_000) await this.reload();
    return this.policies.get(bucket);
  }

  async all(): Promise<BucketPolicy[]> {
    await this.reload();
    return [...this.policies.values()];
  }

  async reload(): Promise<void> {
    this.policies = new Map((await allBuckets(this.rt.db)).map((p) => [p.bucket, p]));
    this.loadedAt = Date.now();
    if (this.redis && this.policies.size) {
      const pipe = this.redis.pipeline();
      for (const p of this.policies.values()) pipe.set(policyKey(p.bucket), encodeCachedPolicy(p), "EX", POLICY_CACHE_TTL_S);
      // A failed write leaves the entry to expire: readers then ask media.
      await pipe.exec().catch(() => {});
    }
  }
}

export interface MediaContext {
  readonly rt: Runtime<MediaConfig>;
  readonly store: MediaStore;
  readonly volumes: VolumeStore;
  readonly directory: MediaDirectory;
  readonly policies: PolicyCache;
  /**
   * Live media in Redis (shared-rules/media-cache.ts, read by post without a hop): written
   * through after an upload, dropped after a delete or purge, before either answers.
   */
  readonly cache: VersionedCache;
  readonly errors: DomainErrors<ErrorReason>;
  /** Needle keys written by uploads still in progress. */
  readonly inFlight: Set<bigint>;
}

export function createContext(rt: Runtime<MediaConfig>, volumes: VolumeStore): MediaContext {
  const cache = new VersionedCache(rt.redis, MEDIA_CACHE_ENTRY, MEDIA_CACHE_TTL_S);
  return {
    rt,
    store: mediaStore,
    volumes,
    directory: new MediaDirectory(rt, cache),
    policies: new PolicyCache(rt, rt.redis),
    cache,
    errors: domainErrors<ErrorReason>("media", ErrorReasonSchema),
    inFlight: new Set(),
  };
}

/** A random positive 63-bit id: media ids and needle keys must not be guessable. */
export function randomId(): bigint {
  const a = new BigUint64Array(1);
  crypto.getRandomValues(a);
  return (a[0]! & 0x7fffffffffffffffn) || 1n;
}

/** A random 32-bit needle cookie. */
export function randomCookie(): number {
  return crypto.getRandomValues(new Uint32Array(1))[0]!;
}
