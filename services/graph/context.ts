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
import { GraphCache } from "./graph-cache.ts";
import { graphStore } from "./store.ts";

export interface GraphContext {
  readonly rt: Runtime<GraphConfig>;
  readonly store: GraphStore;
  readonly accounts: AccountDirectory;
  readonly cache: GraphCache;
  readonly errors: DomainErrors<ErrorReason>;
  /** Public follows, several callers' in one transaction (OASIS_GRAPH_GROUP_COMMIT; routes/follow.ts). */
  readonly follows: TxBatcher<GroupFollow, FollowOutcome>;
}

export function createContext(rt: Runtime<GraphConfig>): GraphContext {
  return {
    rt,
    store: graphStore,
    follows: new TxBatcher<GroupFollow, FollowOutcome>({
      pool: rt.db,
      max: rt.config.groupCommit,
      plan: (follows) => graphStore.followGroupPlan(follows),
      // A batch of one, or each follow of a failed batch: followOneTrip with the same event.
      alone: (f) => rt.batchTx((tx) => graphStore.followOneTrip(tx, f.followerId, f.followeeId, f.id, f.now, () => insertEvents([f.event]))),
      committed: () => rt.outbox.kick(),
      metrics: { registry: rt.metrics, name: "follows" },
    }),
    accounts: new AccountDirectory(rt.db, rt.client(IdentityService, "identity")),
    cache: new GraphCache(rt.redis, rt.db, rt.config.followerCacheMax),
    errors: domainErrors<ErrorReason>("graph", ErrorReasonSchema),
  };
}
