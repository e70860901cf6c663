/** Post's long-lived state: runtime, the store, clients of identity/graph/media, the reader, errors. */
import type { Client } from "@connectrpc/connect";
import { domainErrors, type DomainErrors } from "#kit/errors.ts";
import type { Runtime } from "#kit/runtime.ts";
import { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { MediaService } from "#gen/oasis/media/v1/media_service_pb.ts";
import { ErrorReasonSchema, type ErrorReason } from "#gen/oasis/post/v1/errors_pb.ts";
import type { PostConfig } from "./config.ts";
import type { PostStore } from "./domain/model.ts";
import { PostReader } from "./reader.ts";
import { postStore } from "./store.ts";

export interface PostContext {
  readonly rt: Runtime<PostConfig>;
  readonly store: PostStore;
  readonly identity: Client<typeof IdentityService>;
  readonly media: Client<typeof MediaService>;
  readonly reader: PostReader;
  readonly errors: DomainErrors<ErrorReason>;
}

export function createContext(rt: Runtime<PostConfig>): PostContext {
  const identity = rt.client(IdentityService, "identity");
  return {
    rt,
    store: postStore,
    identity,
    media: rt.client(MediaService, "media"),
    reader: new PostReader(rt.db, rt.redis, identity, rt.client(GraphService, "graph"), rt.config.meshSecret),
    errors: domainErrors<ErrorReason>("post", ErrorReasonSchema),
  };
}
