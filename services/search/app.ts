/**
 * Builds the search process: runtime (Redis for the reindex marker and worker id, the
 * bus for events; no MySQL: every index is rebuilt from the owners), the engine chosen
 * by config, the results read model in Redis, SearchService, and the consumers of
 * identity and post events (indexing and read model) and, with interaction in the mesh,
 * of interaction events (the read model's counters).
 */
import { openRuntime, serve, type App } from "#kit/runtime.ts";
import { bind } from "#kit/server.ts";
import { SearchService } from "#gen/oasis/search/v1/search_service_pb.ts";
import type { SearchConfig } from "./config.ts";
import { createContext, createEngine } from "./context.ts";
import { identityConsumer, interactionConsumer, postConsumer, writers } from "./events.ts";
import { moderationConsumer } from "./moderation-events.ts";
import { searchService } from "./service.ts";

export async function createSearchApp(config: SearchConfig): Promise<App> {
  const rt = await openRuntime(config, { redis: true, bus: true });
  const engine = createEngine(config);
  await engine.open();
  rt.onStop(() => engine.close());
  const ctx = createContext(rt, engine);
  const w = writers(ctx);
  return serve(rt, {
    bindings: [bind(SearchService, searchService(ctx))],
    consumers: [identityConsumer(ctx, w), postConsumer(ctx, w), moderationConsumer(ctx, w), ...(ctx.interaction ? [interactionConsumer(ctx)] : [])],
  });
}
