/** Interaction's long-lived state: runtime, the store, clients of post, identity and graph, counters, viewer states, errors, per-process memos. */
import type { Client } from "@connectrpc/connect";
import { domainErrors, type DomainErrors } from "#kit/errors.ts";
import type { Runtime } from "#kit/runtime.ts";
import { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { ErrorReasonSchema, type ErrorReason } from "#gen/oasis/interaction/v1/errors_pb.ts";
import { PostService } from "#gen/oasis/post/v1/post_service_pb.ts";
import type { InteractionConfig } from "./config.ts";
import { Counters } from "./counters.ts";
import type { InteractionStore } from "./domain/model.ts";
import { interactionStore } from "./store.ts";
import { ViewerStates } from "./viewer-state.ts";
import { AuthorPrivacy } from "../../shared-rules/author-privacy.ts";

export interface InteractionContext {
  readonly rt: Runtime<InteractionConfig>;
  readonly store: InteractionStore;
  readonly post: Client<typeof PostService>;
  readonly identity: Client<typeof IdentityService>;
  /** For the direct visibility check (domain/posts.ts): the author's relationship to the caller. */
  readonly graph: Client<typeof GraphService>;
  readonly counters: Counters;
  readonly viewerStates: ViewerStates;
  readonly errors: DomainErrors<ErrorReason>;
  /** Post -> author, for posts whose author is already recorded in posts_meta (authors never change). */
  readonly postAuthors: Map<bigint, bigint>;
  /** Authors' private flags, remembered 10 s (shared-rules/author-privacy.ts; domain/posts.ts). */
  readonly authorPrivacy: AuthorPrivacy;
}

export function createContext(rt: Runtime<InteractionConfig>): InteractionContext {
  const identity = rt.client(IdentityService, "identity");
  return {
    rt,
    store: interactionStore,
    post: rt.client(PostService, "post"),
    identity,
    graph: rt.client(GraphService, "graph"),
    counters: new Counters(rt.redis, rt.db),
    viewerStates: new ViewerStates(rt.redis, rt.db),
    errors: domainErrors<ErrorReason>("interaction", ErrorReasonSchema),
    postAuthors: new Map(),
    authorPrivacy: new AuthorPrivacy(identity),
  };
}
