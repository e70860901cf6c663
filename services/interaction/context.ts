/** Interaction's long-lived state: runtime, the store, clients of post and identity, counters, viewer states, errors. */
import type { Client } from "@connectrpc/connect";
import { domainErrors, type DomainErrors } from "#kit/errors.ts";
import type { Runtime } from "#kit/runtime.ts";
import { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { ErrorReasonSchema, type ErrorReason } from "#gen/oasis/interaction/v1/errors_pb.ts";
import { PostService } from "#gen/oasis/post/v1/post_service_pb.ts";
import type { InteractionConfig } from "./config.ts";
import { Counters } from "./counters.ts";
import type { InteractionStore } from "./domain/model.ts";
import { interactionStore } from "./store.ts";
import { ViewerStates } from "./viewer-state.ts";

export interface InteractionContext {
  readonly rt: Runtime<InteractionConfig>;
  readonly store: InteractionStore;
  readonly post: Client<typeof PostService>;
  readonly identity: Client<typeof IdentityService>;
  readonly counters: Counters;
  readonly viewerStates: ViewerStates;
  readonly errors: DomainErrors<ErrorReason>;
  /** Posts whose author is already recorded in posts_meta (authors never change). */
  readonly knownPosts: Set<bigint>;
}

export function createContext(rt: Runtime<InteractionConfig>): InteractionContext {
  return {
    rt,
    store: interactionStore,
    post: rt.client(PostService, "post"),
    identity: rt.client(IdentityService, "identity"),
    counters: new Counters(rt.redis, rt.db),
    viewerStates: new ViewerStates(rt.redis, rt.db),
    errors: domainErrors<ErrorReason>("interaction", ErrorReasonSchema),
    knownPosts: new Set(),
  };
}
