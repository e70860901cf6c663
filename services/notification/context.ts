/** Notification's long-lived state: runtime, the store, clients, the live fan-out. */
import type { Client } from "@connectrpc/connect";
import type { Runtime } from "#kit/runtime.ts";
import { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { PostService } from "#gen/oasis/post/v1/post_service_pb.ts";
import type { NotificationConfig } from "./config.ts";
import type { NotificationStore } from "./domain/model.ts";
import { LiveUpdates } from "./live.ts";
import { notificationStore } from "./store.ts";

export interface NotificationContext {
  readonly rt: Runtime<NotificationConfig>;
  readonly store: NotificationStore;
  readonly graph: Client<typeof GraphService>;
  readonly post: Client<typeof PostService>;
  readonly identity: Client<typeof IdentityService>;
  readonly live: LiveUpdates;
}

export function createContext(rt: Runtime<NotificationConfig>): NotificationContext {
  return {
    rt,
    store: notificationStore,
    graph: rt.client(GraphService, "graph"),
    post: rt.client(PostService, "post"),
    identity: rt.client(IdentityService, "identity"),
    live: new LiveUpdates(rt.bus.nc, rt.config.namespace),
  };
}
