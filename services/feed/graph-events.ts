/**
 * Graph's events in one consumer (OASIS_FEED_GRAPH_MERGED; design note 43). The feed
 * had three consumers of graph's stream: `feed-graph` (a follow's backfill, an
 * unfollow's removal: fanout.ts graphConsumer), `feed-followers` (the follower sets:
 * fanout.ts followersConsumer) and `feed-read-model-graph` (the page path's
 * relationships: read-model-events.ts graphReadModelConsumer). Each follow was
 * delivered, decoded, traced and acknowledged three times, and each consumer waited on
 * its own Redis round trips one event at a time.
 *
 * This consumer keeps the durable `feed-graph` and runs, for every event, the handlers
 * the three consumers have for its type (the very same functions, so a change to any of
 * them applies here too), on batches of up to `graphBatch` events (kit/consumer.ts
 * ConsumerBatch, overlappingBatch): a batch starts its events' handlers together, in stream order, so
 * their first Redis commands leave in one write (ioredis auto-pipelining) and every
 * later step of each overlaps the others'. Why that keeps each handler's result:
 * - the follower sets need their events in stream order: each event's commands are
 *   queued on the one connection in stream order, before anything is awaited, and
 *   Redis runs them in that order; a follow's ZADD and another follow's ZADD commute;
 * - the read model's handlers only drop and fence (the order of invalidations does not
 *   matter), and amend relationship sets only where no other fence moved the set's
 *   version meanwhile (two amends of one viewer in a batch end in a drop);
 * - a backfill may take the slow path (build the followee's timeline, then push), which
 *   must not pass a later unfollow of the same pair: every event that is not a
 *   follow_created or a relationship-only event (follow_removed above all) is a barrier:
 *   it starts after everything before it in the batch has finished, and what follows
 *   starts after it finished. Two follow_created of one pair never meet in a batch
 *   without a follow_removed between them (graph emits one only for a new edge).
 * A failed batch is redone event by event in order (the kit does this), through the
 * same handlers, all idempotent (ZADD/ZREM, version bumps, drops).
 * A follow_created's three handlers run as one (follow-created.ts: their three script
 * calls in one, then each one's follow-up), with the one-trip backfill and the sets
 * amended (OASIS_FEED_ONE_TRIP_BACKFILL, OASIS_FEED_REL_SET_AMEND, both on by default).
 */
import { settleAll } from "#kit/parallel.ts";
import type { DescMessage } from "@bufbuild/protobuf";
import { on, overlappingBatch, type EventHandler, type EventMeta } from "#kit/consumer.ts";
import { streamName } from "#kit/bus.ts";
import { BlockCreatedSchema, BlockRemovedSchema, FollowCreatedSchema, FollowRequestedSchema, MuteCreatedSchema, MuteRemovedSchema } from "#gen/oasis/graph/v1/events_pb.ts";
import type { FeedContext } from "./context.ts";
import { followersConsumer, graphConsumer } from "./fanout.ts";
import { followCreatedInOneCall } from "./follow-created.ts";
import { graphReadModelConsumer } from "./read-model-events.ts";

/** Consumers this one stands in for, whose durables are deleted at start (the first keeps its durable: it is this one's). */
export const supersededGraphConsumers = ["feed-followers", "feed-read-model-graph"] as const;

/** Event types whose handlers may run alongside each other in a batch (no barrier). */
const overlapping = new Set<DescMessage>([FollowCreatedSchema, FollowRequestedSchema, BlockCreatedSchema, BlockRemovedSchema, MuteCreatedSchema, MuteRemovedSchema]);

/**
 * The merged consumer of graph's events (see the top of this file): `feed-graph`, the
 * per-event handlers of the three consumers it stands in for, and a batch handler of up
 * to `ctx.rt.config.graphBatch` events.
 */
export function mergedGraphConsumer(ctx: FeedContext) {
  const parts = [graphConsumer(ctx), followersConsumer(ctx), graphReadModelConsumer(ctx)];
  const bySchema = new Map<DescMessage, Array<EventHandler<DescMessage>>>();
  for (const part of parts) {
    for (const h of part.handlers as ReadonlyArray<EventHandler<DescMessage>>) {
      bySchema.set(h.schema, [...(bySchema.get(h.schema) ?? []), h]);
    }
  }
  /** Every part's handler of the event, started together; rejects with the first error once all settled. */
  const runAll = async (schema: DescMessage, event: unknown, meta: EventMeta): Promise<void> => {
    await settleAll((bySchema.get(schema) ?? []).map((h) => h.handle(event as never, meta)));
  };
  // A follow_created's three script calls in one (follow-created.ts; design note 68).
  const cfg = ctx.rt.config;
  if (cfg.oneTripBackfill && cfg.relSetAmend) {
    const one = followCreatedInOneCall(ctx);
    bySchema.set(FollowCreatedSchema, [on(FollowCreatedSchema, (e) => one(e))]);
  }
  const handlers = [...bySchema.keys()].map((schema) => on(schema, (event, meta) => runAll(schema, event, meta)));
  return {
    name: parts[0]!.name,
    handlers,
    batch: overlappingBatch(handlers, ctx.rt.config.graphBatch, (schema) => overlapping.has(schema)),
  };
}

/** Deletes the durables of the consumers the merged one stands in for (absent ones are fine). */
export async function deleteSupersededGraphConsumers(ctx: FeedContext): Promise<void> {
  const { bus } = ctx.rt;
  const stream = streamName(bus.namespace, "graph");
  for (const name of supersededGraphConsumers) {
    await bus.jsm.consumers.delete(stream, `${bus.namespace ? `${bus.namespace}-` : ""}${name}`).catch(() => false);
  }
}
