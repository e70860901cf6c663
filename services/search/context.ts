/** Search's long-lived state: runtime (Redis, bus), the engine, and clients of the services it hydrates from. */
import type { Client } from "@connectrpc/connect";
import type { Runtime } from "#kit/runtime.ts";
import { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { InteractionService } from "#gen/oasis/interaction/v1/interaction_service_pb.ts";
import { PostService } from "#gen/oasis/post/v1/post_service_pb.ts";
import type { SearchConfig } from "./config.ts";
import type { SearchEngine } from "./domain/engine.ts";
import { MeiliEngine } from "./meili.ts";
import { SearchReadModel } from "./read-model.ts";
import { RequestCache } from "./request-cache.ts";
import { EmbeddedEngine } from "./store.ts";

export interface SearchContext {
  readonly rt: Runtime<SearchConfig>;
  readonly engine: SearchEngine;
  /** What results need to be presented (read-model.ts), in search's Redis. */
  readonly readModel: SearchReadModel;
  /** Results by query and generation (request-cache.ts); events bump its generations. */
  readonly cache: RequestCache;
  readonly post: Client<typeof PostService>;
  readonly graph: Client<typeof GraphService>;
  readonly identity: Client<typeof IdentityService>;
  /** Absent when the mesh runs without the interaction service (counts stay empty). */
  readonly interaction: Client<typeof InteractionService> | undefined;
}

/** The engine the configuration asks for: Meilisearch when a URL is set, else embedded. */
export function createEngine(cfg: SearchConfig): SearchEngine {
  return cfg.meiliUrl ? new MeiliEngine(cfg.meiliUrl, cfg.meiliKey, cfg.indexPrefix) : new EmbeddedEngine(cfg.dataDir, undefined, cfg.tierWalks);
}

export function createContext(rt: Runtime<SearchConfig>, engine: SearchEngine): SearchContext {
  const cfg = rt.config;
  return {
    rt,
    engine,
    readModel: new SearchReadModel(rt.redis!),
    cache: new RequestCache(rt.redis, () => engine.changeToken(), {
      entries: cfg.cacheEntries,
      refreshMs: cfg.refreshMs,
      registry: rt.metrics,
      externalToken: () => engine.externalChangeToken(),
    }),
    post: rt.client(PostService, "post"),
    graph: rt.client(GraphService, "graph"),
    identity: rt.client(IdentityService, "identity"),
    interaction: cfg.upstreams.interaction?.length ? rt.client(InteractionService, "interaction") : undefined,
  };
}
