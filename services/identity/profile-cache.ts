/**
 * Read-through cache of profiles in Redis (kit/cache.ts: versioned, so a reader racing
 * a writer never caches the old profile). Profiles are read on every feed page (author
 * hydration) and change rarely: reads go to Redis first, one round trip per batch, and
 * to MySQL only for misses. TTL 10 minutes bounds memory, not staleness.
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import { VersionedCache } from "#kit/cache.ts";
import type { Redis } from "#kit/redis.ts";
import type { Queryable } from "#kit/mysql.ts";
import { ProfileSchema, type Profile } from "#gen/oasis/identity/v1/profile_pb.ts";
import { profilesByIds } from "./store.ts";

export class ProfileCache {
  private readonly cache: VersionedCache;

  constructor(
    redis: Redis,
    private readonly db: Queryable,
  ) {
    this.cache = new VersionedCache(redis, "profile", 600);
  }

  /** Profiles for `userIds` (missing accounts absent). */
  async get(userIds: readonly bigint[]): Promise<Map<bigint, Profile>> {
    const found = await this.cache.getMany(
      userIds.map(String),
      async (missing) => new Map((await profilesByIds(this.db, missing.map(BigInt))).map((p) => [String(p.userId), Buffer.from(toBinary(ProfileSchema, p))])),
    );
    return new Map([...found].map(([k, v]) => [BigInt(k), fromBinary(ProfileSchema, v)]));
  }

  /** Forgets a profile; call after the transaction that changed it committed. */
  async invalidate(userId: bigint): Promise<void> {
    await this.cache.invalidate([String(userId)]);
  }
}
