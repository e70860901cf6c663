/**
 * Builds the graph process: runtime (MySQL `oasis_graph`, Redis, bus + outbox), the
 * identity event consumer, and GraphService.
 */
import { join } from "node:path";
import { openRuntime, serve, type App } from "#kit/runtime.ts";
import { bind } from "#kit/server.ts";
import { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import type { GraphConfig } from "./config.ts";
import { createContext } from "./context.ts";
import { identityConsumer } from "./events.ts";
import { graphService } from "./service.ts";

export async function createGraphApp(config: GraphConfig): Promise<App> {
  const rt = await openRuntime(config, { migrationsDir: join(import.meta.dir, "migrations"), redis: true, bus: true, multipleStatements: true });
  const ctx = createContext(rt);
  return serve(rt, {
    bindings: [bind(GraphService, graphService(ctx))],
    consumers: [identityConsumer(ctx)],
  });
}
