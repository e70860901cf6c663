/**
 * Graph's configuration: the kit's base settings plus cache sizes.
 * Env (optional): OASIS_GRAPH_FOLLOWER_CACHE_MAX [100000] - follower id sets larger than
 * this are paged from MySQL instead of cached whole in Redis.
 */
import { baseConfig, type BaseConfig, type Env } from "#kit/config.ts";
import { positiveIntEnv } from "#kit/env.ts";

export interface GraphConfig extends BaseConfig {
  /** Largest follower set kept whole in Redis (members). */
  readonly followerCacheMax: number;
}

export function loadGraphConfig(env: Env = process.env): GraphConfig {
  return Object.freeze({
    ...baseConfig("graph", env),
    followerCacheMax: positiveIntEnv(env, "OASIS_GRAPH_FOLLOWER_CACHE_MAX", 100_000),
  });
}
