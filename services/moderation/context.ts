/** Moderation's long-lived state: runtime, the store, the mesh clients its adapters and rules use, the role cache. */
import type { Client } from "@connectrpc/connect";
import type { Runtime } from "#kit/runtime.ts";
import { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { InteractionService } from "#gen/oasis/interaction/v1/interaction_service_pb.ts";
import { PostService } from "#gen/oasis/post/v1/post_service_pb.ts";
import { ChatService } from "#gen/oasis/chat/v1/chat_service_pb.ts";
import type { ModerationConfig } from "./config.ts";
import type { ModerationStore } from "./domain/model.ts";
import { RoleCache } from "./domain/roles.ts";
import { moderationStore } from "./store.ts";

export interface ModerationContext {
  readonly rt: Runtime<ModerationConfig>;
  readonly store: ModerationStore;
  readonly identity: Client<typeof IdentityService>;
  readonly graph: Client<typeof GraphService>;
  readonly post: Client<typeof PostService>;
  readonly interaction: Client<typeof InteractionService>;
  /** Only for message reports; absent from a mesh without chat. */
  chat(): Client<typeof ChatService>;
  readonly roles: RoleCache;
}

export function createContext(rt: Runtime<ModerationConfig>): ModerationContext {
  const identity = rt.client(IdentityService, "identity");
  return {
    rt,
    store: moderationStore,
    identity,
    graph: rt.client(GraphService, "graph"),
    post: rt.client(PostService, "post"),
    interaction: rt.client(InteractionService, "interaction"),
    chat: () => rt.client(ChatService, "chat"),
    roles: new RoleCache(identity, rt.config.roleCacheMs),
  };
}
