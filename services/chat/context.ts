/** Chat's long-lived state: runtime, the store, graph, identity and media clients, live fan-out. */
import type { Client } from "@connectrpc/connect";
import type { Runtime } from "#kit/runtime.ts";
import { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { MediaService } from "#gen/oasis/media/v1/media_service_pb.ts";
import type { ChatConfig } from "./config.ts";
import type { ChatStore } from "./domain/model.ts";
import { LiveLog } from "./events.ts";
import { chatStore } from "./store.ts";

export interface ChatContext {
  readonly rt: Runtime<ChatConfig>;
  readonly store: ChatStore;
  readonly graph: Client<typeof GraphService>;
  readonly identity: Client<typeof IdentityService>;
  /** Only called for messages with images; absent from a mesh without media. */
  media(): Client<typeof MediaService>;
  readonly live: LiveLog;
}

export function createContext(rt: Runtime<ChatConfig>): ChatContext {
  return {
    rt,
    store: chatStore,
    graph: rt.client(GraphService, "graph"),
    identity: rt.client(IdentityService, "identity"),
    media: () => rt.client(MediaService, "media"),
    live: new LiveLog(rt.bus.nc, rt.config.namespace),
  };
}
