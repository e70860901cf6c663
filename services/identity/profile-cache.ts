/**
 * Read-through cache of profiles in Redis. Profiles are read on every feed page (author
 * hydration) and change rarely, so reads go to Redis first (one MGET per batch) and to
 * MySQL only for misses, which are then cached.
 *
 * Consistency: writers delete the key after their transaction commits. A reader that
 * loaded the old row before the commit may still write it back after the delete; the
 * TTL bounds that staleness (10 minutes), the usual cache-aside trade-off.
 */
import { fromBinary, toBinary } from "@bufbuild/protobuf";
import type { Redis } from "#kit/redis.ts";
import type { Queryable } from "#kit/mysql.ts";
import { ProfileSchema, type Profile } from "#gen/oasis/identity/v1/profile_pb.ts";
import { profilesByIds } from "./store.ts";

const ttlSeconds = 600;
const key = (userId: bigint) => `profile:${userId}`;

export class ProfileCache {
  constructor(
    private readonly redis: Redis,
    private readonly db: Queryable,
  ) {}

  /** Profiles for `userIds` (missing accounts absent), from Redis where cached. */
  async get(userIds: readonly bigint[]): Promise<Map<bigint, Profile>> {
    const out = new Map<bigint, Profile>();
    if (userIds.length === 0) return out;
    let cached: Array<Buffer | null> = [];
    try {
      cached = await this.redis.mgetBuffer(...userIds.map(key));
    } catch {
      cached = []; // Redis down: serve from MySQL.
    }
    const misses: bigint[] = [];
    userIds.forEach((id, i) => {
      const hit = cached[i];
      if (hit) out.set(id, fromBinary(ProfileSchema, hit));
      else misses.push(id);
    });
    if (misses.length) {
      const loaded = await profilesByIds(this.db, misses);
      const pipe = this.redis.pipeline();
      for (const p of loaded) {
        out.set(p.userId, p);
        pipe.set(key(p.userId), Buffer.from(toBinary(ProfileSchema, p)), "EX", ttlSeconds);
      }
      await pipe.exec().catch(() => {});
    }
    return out;
  }

  /** Forgets a profile; call after the transaction that changed it committed. */
  async invalidate(userId: bigint): Promise<void> {
    await this.redis.del(key(userId)).catch(() => {});
  }
}
