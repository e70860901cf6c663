/**
 * Graph's configuration: the kit's base settings plus cache sizes.
 * Env (optional): OASIS_GRAPH_FOLLOWER_CACHE_MAX [100000] - follower id sets larger than
 * this are paged from MySQL instead of cached whole in Redis.
 * OASIS_GRAPH_BATCHED_WRITES [1] - a follow of a public account is one transaction in
 * two round trips (store.ts followBatched); 0 runs it statement by statement (the A/B
 * switch of bench/graph.ts).
 * OASIS_GRAPH_POINT_LOOKUP_MAX [0] - relationship questions about at most this many users
 * are answered by one SQL statement for those pairs when the asker's follower and
 * following lists are not cached, instead of loading both lists whole
 * (domain/relations.ts relationsOf); 0 always loads the lists. Off by default: on a
 * quiet box bench/writes.ts measured it slower (design note 30).
 * OASIS_GRAPH_ONE_TRIP_FOLLOW [1] - with batched writes, that transaction is one round
 * trip (store.ts followOneTrip: whether either user blocks the other, and the event's
 * flags, decided in SQL after the lock) instead of two (design note 57).
 * OASIS_GRAPH_AMEND_CACHE [1] - a new follow of a public account adds the edge to both
 * users' cached lists and counts in place (graph-cache.ts followAdded) instead of
 * dropping them; 0 drops them (the A/B switch of bench/writes.ts).
 * OASIS_GRAPH_GROUP_COMMIT [64] - group commit: the public follows that concurrent calls
 * hand in while a follow's transaction runs go together in one transaction of one round
 * trip, at most this many (store.ts followGroupPlan, kit/tx-batcher.ts; design note 64);
 * 0 or 1: each follow alone.
 */
import { baseConfig, type BaseConfig, type Env } from "#kit/config.ts";
import { boolEnv, nonNegativeIntEnv, positiveIntEnv } from "#kit/env.ts";

export interface GraphConfig extends BaseConfig {
  /** Largest follower set kept whole in Redis (members). */
  readonly followerCacheMax: number;
  /** Follows of public accounts use store.ts followBatched (two round trips). */
  readonly batchedWrites: boolean;
  /** With batchedWrites, a follow of a public account in one round trip (store.ts followOneTrip). */
  readonly oneTripFollow: boolean;
  /** Relationship reads of at most this many users skip loading uncached lists. */
  readonly pointLookupMax: number;
  /** A new follow amends the cached lists and counts instead of dropping them. */
  readonly amendCache: boolean;
  /** Most public follows per group-commit transaction; <= 1: each alone. */
  readonly groupCommit: number;
}

export function loadGraphConfig(env: Env = process.env): GraphConfig {
  return Object.freeze({
    ...baseConfig("graph", env),
    followerCacheMax: positiveIntEnv(env, "OASIS_GRAPH_FOLLOWER_CACHE_MAX", 100_000),
    batchedWrites: boolEnv(env, "OASIS_GRAPH_BATCHED_WRITES", true),
    oneTripFollow: boolEnv(env, "OASIS_GRAPH_ONE_TRIP_FOLLOW", true),
    pointLookupMax: nonNegativeIntEnv(env, "OASIS_GRAPH_POINT_LOOKUP_MAX", 0),
    amendCache: boolEnv(env, "OASIS_GRAPH_AMEND_CACHE", true),
    groupCommit: nonNegativeIntEnv(env, "OASIS_GRAPH_GROUP_COMMIT", 64),
  });
}
