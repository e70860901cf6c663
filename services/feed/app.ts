/**
 * Builds the feed process: runtime (Redis for timelines, the bus for events; no MySQL:
 * every timeline can be rebuilt from post and graph), FeedService, the fan-out
 * consumers of post and graph events and the read model's consumers.
 */
import { openRuntime, serve, type App } from "#kit/runtime.ts";
import { bind } from "#kit/server.ts";
import { FeedService } from "#gen/oasis/feed/v1/feed_service_pb.ts";
import type { FeedConfig } from "./config.ts";
import { createContext } from "./context.ts";
import { fanoutMetrics, followersConsumer, graphConsumer, postConsumer } from "./fanout.ts";
import { graphReadModelConsumer, readModelConsumers } from "./read-model-events.ts";
import { deleteSupersededGraphConsumers, mergedGraphConsumer } from "./graph-events.ts";
import { deleteSupersededPostConsumer, mergedPostConsumer } from "./post-events.ts";
import { feedService } from "./service.ts";

export async function createFeedApp(config: FeedConfig): Promise<App> {
  const rt = await openRuntime(config, { redis: true, bus: true });
  const ctx = createContext(rt);
  // What the edge's page path must apply as the feed does (or that it must not serve).
  await ctx.readModel.publishPagePath(config.activeMs, Math.ceil(config.activeMs / 1000), ctx.interaction !== undefined, config.readModel);
  // Graph's events: one batched consumer (graph-events.ts), or the three it stands in for.
  if (config.graphMerged) await deleteSupersededGraphConsumers(ctx);
  const graphConsumers = config.graphMerged ? [mergedGraphConsumer(ctx)] : [graphConsumer(ctx), followersConsumer(ctx), graphReadModelConsumer(ctx)];
  // Post's events: the fan-out's consumer runs the read model's handlers too (post-events.ts), or each has its own.
  if (config.postMerged) await deleteSupersededPostConsumer(ctx);
  const metrics = fanoutMetrics(rt.metrics);
  const postConsumers = config.postMerged ? [mergedPostConsumer(ctx, metrics)] : [postConsumer(ctx, metrics)];
  return serve(rt, {
    bindings: [bind(FeedService, feedService(ctx))],
    // The read model is kept by its consumers even while reads bypass it (OASIS_FEED_READ_MODEL=0).
    consumers: [
      ...postConsumers,
      ...graphConsumers,
      ...readModelConsumers(ctx.readModel, ctx.interaction !== undefined, rt.config.oneTripLikes, rt.config.oneTripCreate, rt.config.rmCreateSeed, rt.config.interactionBatch, rt.config.rmPostBatch, !config.postMerged, rt.config.likesOnePipeline),
    ],
  });
}
