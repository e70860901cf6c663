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
import type { GraphStore } from "./domain/model.ts";
import { GraphCache } from "./graph-cache.ts";
import { graphStore } from "./store.ts";

export interface GraphContext {
  readonly rt: Runtime<GraphConfig>;
  readonly store: GraphStore;
  readonly accounts: AccountDirectory;
  readonly cache: GraphCache;
  readonly errors: DomainErrors<ErrorReason>;
}

export function createContext(rt: Runtime<GraphConfig>): GraphContext {
  return {
    rt,
    store: graphStore,
    accounts: new AccountDirectory(rt.db, rt.client(IdentityService, "identity")),
    cache: new GraphCache(rt.redis, rt.db, rt.config.followerCacheMax),
    errors: domainErrors<ErrorReason>("graph", ErrorReasonSchema),
  };
}
