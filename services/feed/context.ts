/** Feed's long-lived state: runtime (Redis, bus), timelines, and clients of the services it reads. */
import type { Client } from "@connectrpc/connect";
import type { Runtime } from "#kit/runtime.ts";
import { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { InteractionService } from "#gen/oasis/interaction/v1/interaction_service_pb.ts";
import { PostService } from "#gen/oasis/post/v1/post_service_pb.ts";
import type { FeedConfig } from "./config.ts";
import { FollowerSets } from "./followers.ts";
import { ReadModel } from "./read-model.ts";
import { Timelines } from "./timelines.ts";

export interface FeedContext {
  readonly rt: Runtime<FeedConfig>;
  readonly timelines: Timelines;
  /** Post views, authors, counters and viewer state in the feed's Redis (read-model.ts). */
  readonly readModel: ReadModel;
  /** Follower ids per author in the feed's Redis, for the fan-out (followers.ts). */
  readonly followers: FollowerSets;
  readonly post: Client<typeof PostService>;
  readonly graph: Client<typeof GraphService>;
  readonly identity: Client<typeof IdentityService>;
  /** Absent when the mesh runs without the interaction service (counts stay empty). */
  readonly interaction: Client<typeof InteractionService> | undefined;
}

export function createContext(rt: Runtime<FeedConfig>): FeedContext {
  const cfg = rt.config;
  return {
    rt,
    timelines: new Timelines(rt.redis, cfg.homeCap, cfg.userCap, Math.ceil(cfg.activeMs / 1000)),
    readModel: new ReadModel(rt.redis),
    followers: new FollowerSets(rt.redis, cfg.followersTtl, rt.metrics),
    post: rt.client(PostService, "post"),
    graph: rt.client(GraphService, "graph"),
    identity: rt.client(IdentityService, "identity"),
    interaction: cfg.upstreams.interaction?.length ? rt.client(InteractionService, "interaction") : undefined,
  };
}
