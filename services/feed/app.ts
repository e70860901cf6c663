/**
 * Builds the feed process: runtime (Redis for timelines, the bus for events; no MySQL:
 * every timeline can be rebuilt from post and graph), FeedService, and the fan-out
 * consumers of post and graph events.
 */
import { openRuntime, serve, type App } from "#kit/runtime.ts";
import { bind } from "#kit/server.ts";
import { FeedService } from "#gen/oasis/feed/v1/feed_service_pb.ts";
import type { FeedConfig } from "./config.ts";
import { createContext } from "./context.ts";
import { fanoutMetrics, graphConsumer, postConsumer } from "./fanout.ts";
import { feedService } from "./service.ts";

export async function createFeedApp(config: FeedConfig): Promise<App> {
  const rt = await openRuntime(config, { redis: true, bus: true });
  const ctx = createContext(rt);
  return serve(rt, {
    bindings: [bind(FeedService, feedService(ctx))],
    consumers: [postConsumer(ctx, fanoutMetrics(rt.metrics)), graphConsumer(ctx)],
  });
}
