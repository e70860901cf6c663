/**
 * Graph's long-lived state: runtime (MySQL, Redis, outbox), the store, the account
 * directory (identity's private flags), the Redis caches and the domain's errors.
 */
import { domainErrors, type DomainErrors } from "#kit/errors.ts";
import type { Runtime } from "#kit/runtime.ts";
import { ErrorReasonSchema, type ErrorReason } from "#gen/oasis/graph/v1/errors_pb.ts";
import { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { AccountDirectory } from "./accounts.ts";
import type { GraphConfig } from "./config.ts";
import { TxBatcher } from "#kit/tx-batcher.ts";
import { insertEvents } from "#kit/outbox.ts";
import type { FollowOutcome, GraphStore, GroupFollow } from "./domain/model.ts";
import { GraphCache, type FollowVersions } from "./graph-cache.ts";
import { graphStore } from "./store.ts";

/** A follow of the group commit with the cache versions its call read before (graph-cache.ts followVersions; undefined: Redis did not answer). */
export type CachedFollow = GroupFollow & { readonly seen: FollowVersions | undefined };

export interface GraphContext {
  readonly rt: Runtime<GraphConfig>;
  readonly store: GraphStore;
  readonly accounts: AccountDirectory;
  readonly cache: GraphCache;
  readonly errors: DomainErrors<ErrorReason>;
  /** Public follows, several callers' in one transaction (OASIS_GRAPH_GROUP_COMMIT; routes/follow.ts). */
  readonly follows: TxBatcher<CachedFollow, FollowOutcome>;
}

export function createContext(rt: Runtime<GraphConfig>): GraphContext {
  const cache = new GraphCache(rt.redis, rt.db, rt.config.followerCacheMax);
  // The batch's cache work in one Redis call, before its calls are answered (OASIS_GRAPH_GROUP_REDIS_ONCE).
  const redisOnce = rt.config.amendCache && rt.config.groupRedisOnce;
  return {
    rt,
    store: graphStore,
    follows: new TxBatcher<CachedFollow, FollowOutcome>({
      pool: rt.db,
      max: rt.config.groupCommit,
      plan: (follows) => graphStore.followGroupPlan(follows),
      // A batch of one, or each follow of a failed batch: followOneTrip with the same event.
      alone: async (f) => {
        const out = await rt.batchTx((tx) => graphStore.followOneTrip(tx, f.followerId, f.followeeId, f.id, f.now, () => insertEvents([f.event])));
        if (redisOnce) await followsCached(cache, [f], [out]);
        return out;
      },
      ...(redisOnce ? { after: (follows: readonly CachedFollow[], outcomes: ReadonlyArray<FollowOutcome | Error>) => followsCached(cache, follows, outcomes) } : {}),
      committed: () => rt.outbox.kick(),
      metrics: { registry: rt.metrics, name: "follows" },
    }),
    accounts: new AccountDirectory(rt.db, rt.client(IdentityService, "identity")),
    cache,
    errors: domainErrors<ErrorReason>("graph", ErrorReasonSchema),
  };
}

/**
 * After a commit: the new edges among `follows` added to both users' cached lists and
 * counts in one Redis call (graph-cache.ts followsAdded, in the batch's order), those
 * whose versions were not read dropped instead; repeats and blocked follows changed
 * nothing and touch no cache (routes/follow.ts does the same for a follow alone).
 */
async function followsCached(cache: GraphCache, follows: readonly CachedFollow[], outcomes: ReadonlyArray<FollowOutcome | Error>): Promise<void> {
  const created = follows.filter((_f, i) => {
    const o = outcomes[i];
    return o !== undefined && !(o instanceof Error) && !o.blocked && o.created;
  });
  const unseen = created.filter((f) => !f.seen);
  await Promise.all([
    cache.followsAdded(created.filter((f) => f.seen).map((f) => ({ followerId: f.followerId, followeeId: f.followeeId, edgeId: f.id, seen: f.seen! }))),
    unseen.length > 0 ? cache.invalidate(unseen.flatMap((f) => [f.followerId, f.followeeId])) : undefined,
  ]);
}
