/**
 * Post's events in one consumer (OASIS_FEED_POST_MERGED; design note 60). The feed had
 * two consumers of post's stream: `feed-fanout` (post_created onto timelines,
 * post_deleted off them: fanout.ts postConsumer) and `feed-read-model-post` (the read
 * model's posts: read-model-events.ts readModelConsumers). NATS 2.9 gives a consumer one
 * filter subject, so both took every post event: each compose was delivered, its headers
 * decoded, traced and acknowledged twice, though the read model's consumer writes
 * nothing for a post_created that refers to nothing (the fan-out seeds it, note 44).
 *
 * This consumer keeps the durable `feed-fanout` and runs, for every event, the handlers
 * both consumers have for its type (the very same functions, started together), at the
 * fan-out's concurrency. What the read model's consumer got from running one event at a
 * time in stream order, that no post_updated lands before its post_created and no two
 * updates of a post pass each other, comes from the kit's order key (kit/consumer.ts
 * orderKey): the events of one post (its id, read from the bytes) are handled one after
 * another in stream order, the events of different posts alongside. Events of different
 * posts never depended on each other's order there: a refer-to adds or removes its own
 * id in the referred post's set (SADD/SREM) and drops counters, and a seed never
 * overwrites what an event wrote.
 */
import { settleAll } from "#kit/parallel.ts";
import { fromBinary, type DescMessage } from "@bufbuild/protobuf";
import { on, type EventHandler, type EventMeta } from "#kit/consumer.ts";
import { eventSubject, streamName } from "#kit/bus.ts";
import { PostCreatedSchema, PostDeletedSchema, PostUpdatedSchema } from "#gen/oasis/post/v1/events_pb.ts";
import { decodePostCreatedHead } from "../../shared-rules/post-created-head.ts";
import type { FeedContext } from "./context.ts";
import { postConsumer, type FanoutMetrics } from "./fanout.ts";
import { readModelPostHandlers } from "./read-model-events.ts";

/** The consumer this one stands in for, whose durable is deleted at start (`feed-fanout` is this one's). */
export const supersededPostConsumer = "feed-read-model-post";

/**
 * The merged consumer of post's events (see the top of this file): `feed-fanout`, the
 * fan-out's and the read model's handlers of each type started together, one post's
 * events in stream order.
 */
export function mergedPostConsumer(ctx: FeedContext, metrics: FanoutMetrics) {
  const cfg = ctx.rt.config;
  const fanout = postConsumer(ctx, metrics);
  const parts: ReadonlyArray<readonly EventHandler<any>[]> = [fanout.handlers, readModelPostHandlers(ctx.readModel, cfg.oneTripCreate, cfg.rmCreateSeed)];
  const bySchema = new Map<DescMessage, Array<EventHandler<DescMessage>>>();
  for (const part of parts) {
    for (const h of part as ReadonlyArray<EventHandler<DescMessage>>) bySchema.set(h.schema, [...(bySchema.get(h.schema) ?? []), h]);
  }
  /** Every part's handler of the event, started together; rejects with the first error once all settled. */
  const runAll = async (schema: DescMessage, event: unknown, meta: EventMeta): Promise<void> => {
    await settleAll(bySchema.get(schema)!.map((h) => h.handle(event as never, meta)));
  };
  // One decode per event: both parts read post_created the same way (its head, or all of it).
  const handlers = [...bySchema].map(([schema, hs]) => on(schema, (event, meta) => runAll(schema, event, meta), hs[0]!.decode));
  const ns = ctx.rt.bus.namespace;
  const postIdOf = new Map<string, (data: Uint8Array) => bigint>([
    // A PostUpdated holds the post as PostCreated does (field 1): its head reads the same.
    [eventSubject(ns, PostCreatedSchema), (data) => decodePostCreatedHead(data).post!.postId],
    [eventSubject(ns, PostUpdatedSchema), (data) => decodePostCreatedHead(data).post!.postId],
    [eventSubject(ns, PostDeletedSchema), (data) => fromBinary(PostDeletedSchema, data).postId],
  ]);
  return {
    name: fanout.name,
    concurrency: fanout.concurrency,
    handlers,
    orderKey: (subject: string, data: Uint8Array) => {
      const read = postIdOf.get(subject);
      return read ? String(read(data)) : undefined;
    },
  };
}

/** Deletes the durable of the read model's post consumer, which the merged one stands in for (absent is fine). */
export async function deleteSupersededPostConsumer(ctx: FeedContext): Promise<void> {
  const { bus } = ctx.rt;
  await bus.jsm.consumers.delete(streamName(bus.namespace, "post"), `${bus.namespace ? `${bus.namespace}-` : ""}${supersededPostConsumer}`).catch(() => false);
}
