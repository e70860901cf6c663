/**
 * Durable JetStream consumers for domain events: explicit acks, idempotent handling by
 * event id, exponential backoff on failure, a bounded number of deliveries, and dead
 * letters on `oasis.dlq.<consumer>.<subject>` for messages that cannot be handled.
 *
 * Delivery is at-least-once (JetStream redelivers anything unacknowledged after a
 * crash), so handlers must be idempotent: either naturally (a Redis ZADD) or through
 * `applyOnce`, which records the event id in `processed_events` in the same MySQL
 * transaction as the handler's writes.
 *
 * One consumer reads one domain's stream. NATS 2.9 supports a single `filter_subject`
 * per consumer, so a consumer with handlers for several event types of a domain filters
 * on the domain wildcard and acknowledges the types it has no handler for.
 */
import { fromBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import { AckPolicy, DeliverPolicy, type ConsumerConfig, type JsMsg } from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import type { Pool } from "mysql2/promise";
import { serviceCaller, newRequestId, newSpanId, newTraceId, parseTraceparent, runInCall } from "./call-context.ts";
import { domainStreamConfig, dlqSubject, ensureStream, eventDomain, eventSubject, natsHeaders, type Bus, type MsgHdrs } from "./bus.ts";
import type { Logger } from "./logger.ts";
import type { ConsumerCounters } from "./metrics.ts";
import { endSpan, SpanKind, startSpan, traceparentOf, withSpan } from "./tracing.ts";
import { isDuplicateKey, withBatchedTransaction, withTransaction, type BatchedTx, type Statement, type Tx } from "./mysql.ts";
import { eventHeaders } from "./outbox.ts";
import { settleAll } from "./parallel.ts";

export interface EventMeta {
  /** The outbox id of the event (Nats-Msg-Id), unique per event. */
  readonly eventId: bigint;
  readonly subject: string;
  /** When the change happened (producer's clock), ms since epoch. */
  readonly occurredAtMs: number;
  /** When JetStream stored the event (the server's clock), ms since epoch: the relay's part ends here. */
  readonly storedAtMs: number;
  /** When this delivery's handler started (after any wait for a free slot of `concurrency`), ms since epoch. */
  readonly startedAtMs: number;
  /** 1 on first delivery. */
  readonly deliveryCount: number;
  /**
   * The event's bytes as published (the Protobuf the handler's event was decoded from),
   * for a handler that stores a part of it as it is instead of encoding it again. Absent
   * where an event is handed over without its bytes (tests, replays of decoded events).
   */
  readonly data?: Uint8Array;
}

export interface EventHandler<D extends DescMessage = DescMessage> {
  readonly schema: D;
  handle(event: MessageShape<D>, meta: EventMeta): Promise<void>;
  /**
   * Reads the event from its bytes instead of decoding all of it (`fromBinary`), for a
   * handler that needs a few fields of a large message; throws on bytes it cannot read.
   */
  readonly decode?: (data: Uint8Array) => MessageShape<D>;
}

/**
 * Pairs an event type with its handler, keeping the handler's argument typed; `decode`
 * (optional) reads the event in place of a whole decode (EventHandler.decode).
 */
export function on<D extends DescMessage>(
  schema: D,
  handle: (event: MessageShape<D>, meta: EventMeta) => Promise<void>,
  decode?: (data: Uint8Array) => MessageShape<D>,
): EventHandler<D> {
  return decode ? { schema, handle, decode } : { schema, handle };
}

/** One event of a batch (ConsumerOptions.batch): its handler's schema, the decoded event, its metadata. */
export interface BatchEvent {
  readonly schema: DescMessage;
  readonly event: unknown;
  readonly meta: EventMeta;
}

/**
 * A consumer that applies the events that arrive together as one batch: its `handle` gets
 * up to `max` events in stream order, one batch at a time (the next batch waits for this
 * one), so a handler may send a whole batch's writes in one round trip and still apply
 * them in order. The events of a batch are acknowledged after `handle` resolves. If it
 * throws, each event of the batch is handled again alone, in order, by its own handler
 * (`on(...)`), and acknowledged, retried with backoff or dead-lettered as any event is:
 * so the per-event handlers must do the same as the batch, and a batch's writes must be
 * idempotent (some of them may be done again). Dead letters are replayed through the
 * per-event handlers. The batch runs in one call context and one consumer span.
 */
export interface ConsumerBatch {
  /** Most events per batch (also sets how many JetStream delivers ahead). */
  readonly max: number;
  handle(events: readonly BatchEvent[]): Promise<void>;
}

/**
 * A ConsumerBatch for handlers that may run alongside each other: a batch starts its
 * events' handlers together, in stream order, without waiting between them, so whatever
 * each sends first (a Redis command, auto-pipelined) leaves in one write and in stream
 * order, and each later step overlaps the others'. An event whose type `overlaps` says
 * no to (default: every type overlaps) is a barrier: it starts once everything before it
 * in the batch has finished, and what follows starts once it has. The batch fails (and
 * is redone event by event, see ConsumerBatch) with the first error, after every started
 * handler has settled. `handlers` are the consumer's own (one per event type).
 */
export function overlappingBatch(handlers: readonly EventHandler<any>[], max: number, overlaps: (schema: DescMessage) => boolean = () => true): ConsumerBatch {
  const bySchema = new Map<DescMessage, EventHandler<any>>(handlers.map((h) => [h.schema, h]));
  return {
    max,
    async handle(events) {
      let wave: Array<Promise<void>> = [];
      const settle = async () => {
        const settling = wave;
        wave = [];
        await settleAll(settling);
      };
      for (const e of events) {
        const h = bySchema.get(e.schema);
        if (!h) continue;
        if (overlaps(e.schema)) {
          wave.push(h.handle(e.event as never, e.meta));
          continue;
        }
        await settle();
        await h.handle(e.event as never, e.meta);
      }
      await settle();
    },
  };
}

export interface ConsumerOptions {
  readonly bus: Bus;
  readonly log: Logger;
  /** Durable name, unique per consuming service and purpose, e.g. `feed-fanout`. */
  readonly name: string;
  /** Handlers; all for events of one domain. */
  readonly handlers: readonly EventHandler<any>[];
  /** Deliveries before a message is dead-lettered. Default 8. */
  readonly maxDeliver?: number;
  /** Redelivery if not acked in this long, ms. Default 30 s (JetStream's own; serve() passes OASIS_CONSUMER_ACK_WAIT_MS). */
  readonly ackWaitMs?: number;
  /** Messages handled at once. 1 (default) keeps stream order. Ignored with `batch`. */
  readonly concurrency?: number;
  /**
   * With `concurrency` above 1: a key per message (from its subject and bytes, e.g. the
   * id of the entity the event is about; undefined: none), and messages with one key are
   * handled one after another in stream order, each starting once the one before it has
   * been handled (acked, or nak'ed for a later redelivery: a retried event may then land
   * after its successor, as with concurrency 1). Messages with other keys still run
   * alongside. A key that cannot be read (throws) is none.
   */
  readonly orderKey?: (subject: string, data: Uint8Array) => string | undefined;
  /** Apply the events that arrive together as batches (ConsumerBatch); omitted: one at a time. */
  readonly batch?: ConsumerBatch;
  /** "all": start from the oldest retained event (default); "new": only future ones. */
  readonly deliver?: "all" | "new";
  /** Base of the exponential backoff between attempts, ms. Default 500. */
  readonly backoffBaseMs?: number;
  /** Redelivery and dead-letter counters (kit/metrics.ts); serve() passes the process's. */
  readonly counters?: ConsumerCounters;
}

export interface RunningConsumer {
  readonly name: string;
  /** The stream it reads, e.g. `OASIS_POST`. */
  readonly stream: string;
  /** Its durable name in JetStream (the name, namespace-prefixed in tests). */
  readonly durable: string;
  /**
   * Runs a dead letter of this consumer through its handler again (kit/admin-service.ts
   * ReplayDeadLetters), in a call context of its own. Resolves when the handler
   * succeeded; throws its error, or why the letter cannot be handled (unknown
   * subject, undecodable, no event id). The caller removes the letter on success.
   */
  replay(letter: { subject: string; data: Uint8Array; headers?: MsgHdrs }): Promise<void>;
  stop(): Promise<void>;
}

/** Headers a dead letter carries besides the event's own (kit/admin-service.ts reads them). */
export const dlqHeaders = {
  reason: "Oasis-Dlq-Reason",
  consumer: "Oasis-Dlq-Consumer",
  /** The subject the event was published on. */
  subject: "Oasis-Dlq-Subject",
  /** The event's id (its Nats-Msg-Id when published; the letter gets an id of its own). */
  eventId: "Oasis-Dlq-Event-Id",
} as const;

/** Backoff before attempt n+1: base * 4^(n-1), capped at 60 s, +-20% jitter. */
export function backoffMs(deliveryCount: number, baseMs: number): number {
  const raw = Math.min(60_000, baseMs * 4 ** Math.max(0, deliveryCount - 1));
  return Math.round(raw * (0.8 + Math.random() * 0.4));
}

/**
 * Parks an event on `oasis.dlq.<consumer>.<subject>` with its own headers plus why, the
 * consumer, the original subject and the event id (dlqHeaders). Deduplicated per
 * (consumer, event): a letter published twice is kept once.
 */
export async function publishDeadLetter(
  bus: Pick<Bus, "js" | "namespace">,
  consumer: string,
  msg: { subject: string; data: Uint8Array; headers?: MsgHdrs; seq: number },
  reason: string,
): Promise<void> {
  const h = natsHeaders();
  for (const [k, v] of msg.headers ?? []) h.set(k, v.join(","));
  h.set(dlqHeaders.reason, reason.slice(0, 1000));
  h.set(dlqHeaders.consumer, consumer);
  h.set(dlqHeaders.subject, msg.subject);
  h.set(dlqHeaders.eventId, msg.headers?.get("Nats-Msg-Id") ?? "");
  await bus.js.publish(dlqSubject(bus.namespace, consumer, msg.subject), msg.data, {
    headers: h,
    msgID: `${consumer}:${msg.headers?.get("Nats-Msg-Id") ?? msg.seq}`,
  });
}

/** Creates (or updates) the durable consumer and starts handling messages. */
export async function startConsumer(opts: ConsumerOptions): Promise<RunningConsumer> {
  if (opts.handlers.length === 0) throw new Error(`consumer ${opts.name} has no handlers`);
  const ns = opts.bus.namespace;
  const domain = eventDomain(opts.handlers[0]!.schema);
  for (const h of opts.handlers) {
    if (eventDomain(h.schema) !== domain) throw new Error(`consumer ${opts.name} mixes domains`);
  }
  const stream = domainStreamConfig(ns, domain);
  await ensureStream(opts.bus.jsm, stream, opts.log);
  const bySubject = new Map(opts.handlers.map((h) => [eventSubject(ns, h.schema), h]));
  const filter = bySubject.size === 1 ? [...bySubject.keys()][0]! : `${stream.subjects![0]}`;
  const maxDeliver = opts.maxDeliver ?? 8;
  const durable = `${ns ? `${ns}-` : ""}${opts.name}`;
  const config: Partial<ConsumerConfig> = {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    deliver_policy: opts.deliver === "new" ? DeliverPolicy.New : DeliverPolicy.All,
    filter_subject: filter,
    // One more than ours: our last attempt dead-letters and acks, so JetStream's own
    // limit (which would drop the message silently) is never reached.
    max_deliver: maxDeliver + 1,
    ack_wait: nanos(opts.ackWaitMs ?? 30_000),
    max_ack_pending: Math.max(64, (opts.batch ? opts.batch.max : (opts.concurrency ?? 1)) * 4),
  };
  const existing = await opts.bus.jsm.consumers.info(stream.name, durable).catch(() => undefined);
  const info = existing
    ? existing.config.filter_subject === filter && existing.config.max_deliver === config.max_deliver && existing.config.ack_wait === config.ack_wait
      ? existing
      : await opts.bus.jsm.consumers.update(stream.name, durable, config)
    : await opts.bus.jsm.consumers.add(stream.name, config);
  if (info.config.filter_subject !== filter) {
    throw new Error(`consumer ${durable}: server kept filter_subject=${info.config.filter_subject}, wanted ${filter}`);
  }
  const consumer = await opts.bus.js.consumers.get(stream.name, durable);
  const messages = await consumer.consume({ max_messages: Math.max(16, (opts.batch ? opts.batch.max : (opts.concurrency ?? 1)) * 2) });
  const log = opts.log.child({ consumer: opts.name });

  async function deadLetter(msg: JsMsg, reason: string): Promise<void> {
    await publishDeadLetter(opts.bus, opts.name, { subject: msg.subject, data: msg.data, headers: msg.headers, seq: msg.seq }, reason);
    msg.ack();
    opts.counters?.deadLettered(opts.name);
    log.error({ subject: msg.subject, seq: msg.seq, reason }, "dead-lettered");
  }

  /** Decodes an event of this consumer; throws why it cannot be. Undefined: no handler for the subject. */
  function decode(subject: string, data: Uint8Array, eventIdHeader: string) {
    const handler = bySubject.get(subject);
    if (!handler) return undefined;
    if (!/^[0-9]{1,20}$/.test(eventIdHeader)) throw new Error("missing or bad Nats-Msg-Id");
    return { handler, event: handler.decode ? handler.decode(data) : fromBinary(handler.schema, data) };
  }

  /** Runs the handler in a call context continuing the event's trace, in a consumer span. */
  async function run(handler: EventHandler, event: unknown, meta: EventMeta, headers: MsgHdrs | undefined): Promise<void> {
    return inSpan(meta, headers, () => handler.handle(event as never, meta));
  }

  /** Runs `fn` in a call context continuing the trace of the event `meta` (a batch's first), in a consumer span. */
  async function inSpan(meta: EventMeta, headers: MsgHdrs | undefined, fn: () => Promise<void>, batchSize?: number): Promise<void> {
    const traceparent = headers?.get(eventHeaders.traceparent);
    const parent = parseTraceparent(traceparent);
    const span = startSpan(`${opts.name} process`, SpanKind.CONSUMER, traceparent, {
      "messaging.system": "nats",
      "messaging.destination.name": meta.subject,
      "messaging.message.id": String(meta.eventId),
      "messaging.consumer.group.name": opts.name,
      "oasis.delivery_count": meta.deliveryCount,
      ...(batchSize !== undefined && { "messaging.batch.message_count": batchSize }),
    });
    const ctx = {
      requestId: headers?.get(eventHeaders.requestId) || newRequestId(),
      traceId: parent?.traceId ?? newTraceId(),
      spanId: traceparentOf(span) ? span.spanContext().spanId : newSpanId(),
      caller: serviceCaller,
    };
    try {
      await withSpan(span, () => runInCall(ctx, fn));
      endSpan(span);
    } catch (err) {
      endSpan(span, err);
      throw err;
    }
  }

  interface Prepared {
    readonly msg: JsMsg;
    readonly handler: EventHandler;
    readonly event: unknown;
    readonly meta: EventMeta;
  }

  /** A delivered message decoded with its metadata; undefined when it was acked (no handler) or dead-lettered (undecodable). */
  async function prepare(msg: JsMsg): Promise<Prepared | undefined> {
    if (msg.info.deliveryCount > 1) opts.counters?.redelivered(opts.name);
    if (!bySubject.has(msg.subject)) {
      msg.ack();
      return undefined;
    }
    const idHeader = msg.headers?.get("Nats-Msg-Id") ?? "";
    let decoded;
    try {
      decoded = decode(msg.subject, msg.data, idHeader)!;
    } catch (err) {
      await deadLetter(msg, `undecodable: ${(err as Error).message}`);
      return undefined;
    }
    const storedAtMs = msg.info.timestampNanos / 1e6;
    const meta: EventMeta = {
      eventId: BigInt(idHeader),
      subject: msg.subject,
      occurredAtMs: Number(msg.headers?.get(eventHeaders.occurredAt) || 0) || storedAtMs,
      storedAtMs,
      startedAtMs: Date.now(),
      deliveryCount: msg.info.deliveryCount,
      data: msg.data,
    };
    return { msg, handler: decoded.handler, event: decoded.event, meta };
  }

  async function handleOne(msg: JsMsg): Promise<void> {
    const p = await prepare(msg);
    if (p) await handlePrepared(p);
  }

  /** Runs one event's handler; acks, or naks with backoff, or dead-letters after the last attempt. */
  async function handlePrepared({ msg, handler, event, meta }: Prepared): Promise<void> {
    try {
      await run(handler, event, meta, msg.headers);
      msg.ack();
    } catch (err) {
      if (meta.deliveryCount >= maxDeliver) {
        await deadLetter(msg, (err as Error).message ?? String(err));
      } else {
        const delay = backoffMs(meta.deliveryCount, opts.backoffBaseMs ?? 500);
        log.warn({ err, subject: msg.subject, delivery: meta.deliveryCount, retryInMs: delay }, "handler failed");
        msg.nak(delay);
      }
    }
  }

  /** A batch (ConsumerBatch): acked after `handle`; if it throws, each event alone, in order. */
  async function handleBatch(msgs: JsMsg[]): Promise<void> {
    const items: Prepared[] = [];
    for (const msg of msgs) {
      const p = await prepare(msg);
      if (p) items.push(p);
    }
    if (items.length === 0) return;
    try {
      const first = items[0]!;
      await inSpan(first.meta, first.msg.headers, () => opts.batch!.handle(items.map((i) => ({ schema: i.handler.schema, event: i.event, meta: i.meta }))), items.length);
    } catch (err) {
      log.warn({ err, events: items.length }, "batch failed; handling its events one at a time");
      for (const item of items) await handlePrepared(item);
      return;
    }
    for (const item of items) item.msg.ack();
  }

  if (opts.batch) {
    const max = Math.max(1, opts.batch.max);
    const waiting: JsMsg[] = [];
    let wake: (() => void) | undefined;
    let ended = false;
    // The reader takes messages as JetStream delivers them (at most max_ack_pending are
    // unacknowledged); the worker applies what has arrived, a batch at a time.
    const reader = (async () => {
      for await (const msg of messages) {
        waiting.push(msg);
        wake?.();
      }
      ended = true;
      wake?.();
    })();
    const worker = (async () => {
      for (;;) {
        if (waiting.length === 0) {
          if (ended) return;
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
          continue;
        }
        // Let the rest of a delivery that is arriving join this batch.
        await new Promise<void>((resolve) => setImmediate(resolve));
        await handleBatch(waiting.splice(0, max)).catch((err) => log.error({ err }, "consumer failure"));
      }
    })();
    const loop = Promise.all([reader, worker]);
    return running(loop);
  }

  const concurrency = opts.concurrency ?? 1;
  const inFlight = new Set<Promise<void>>();
  /** The last message started per order key, while it is in flight (ConsumerOptions.orderKey). */
  const lastOfKey = new Map<string, Promise<void>>();
  const keyOf = (msg: JsMsg): string | undefined => {
    try {
      return opts.orderKey!(msg.subject, msg.data);
    } catch {
      return undefined;
    }
  };
  const loop = (async () => {
    for await (const msg of messages) {
      const key = opts.orderKey && concurrency > 1 ? keyOf(msg) : undefined;
      const before = key === undefined ? undefined : lastOfKey.get(key);
      const p = (before ? before.then(() => handleOne(msg)) : handleOne(msg)).catch((err) => log.error({ err }, "consumer failure"));
      if (key !== undefined) {
        lastOfKey.set(key, p);
        void p.finally(() => lastOfKey.get(key) === p && lastOfKey.delete(key));
      }
      inFlight.add(p);
      void p.finally(() => inFlight.delete(p));
      if (inFlight.size >= concurrency) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
  })();
  return running(loop);

  function running(loop: Promise<unknown>): RunningConsumer {
    return {
      name: opts.name,
      stream: stream.name,
      durable,
      async replay(letter) {
        const eventId = letter.headers?.get(dlqHeaders.eventId) ?? "";
        const decoded = decode(letter.subject, letter.data, eventId);
        if (!decoded) throw new Error(`consumer ${opts.name} has no handler for ${letter.subject}`);
        const now = Date.now();
        const meta: EventMeta = {
          eventId: BigInt(eventId),
          subject: letter.subject,
          occurredAtMs: Number(letter.headers?.get(eventHeaders.occurredAt) || 0) || now,
          storedAtMs: now,
          startedAtMs: now,
          // Past the last regular attempt: the handler sees a late delivery.
          deliveryCount: maxDeliver + 1,
          data: letter.data,
        };
        await run(decoded.handler, decoded.event, meta, letter.headers);
        log.info({ subject: letter.subject, event_id: eventId }, "dead letter replayed");
      },
      async stop() {
        await messages.close();
        await loop.catch(() => {});
      },
    };
  }
}

/**
 * Runs `fn` in a transaction that also records (consumer, eventId) in
 * `processed_events`. Returns false, without running `fn`, if the event was already
 * applied; any other error, a duplicate key of `fn`'s own included, is thrown with
 * nothing written. The insert comes first, so a concurrent duplicate waits on its key lock and
 * then sees the committed row.
 */
export async function applyOnce(pool: Pool, consumer: string, eventId: bigint, fn: (tx: Tx) => Promise<void>): Promise<boolean> {
  try {
    return await withTransaction(pool, async (tx) => {
      await tx.query("INSERT INTO processed_events (consumer, event_id) VALUES (?, ?)", [consumer, eventId]);
      await fn(tx);
      return true;
    });
  } catch (err) {
    if (isClaimTaken(err, consumer, [eventId])) return false;
    throw err;
  }
}

/**
 * True when `err` is the duplicate key of the claim itself: `processed_events`' primary
 * key on (consumer, one of `eventIds`), so the event was applied already. Any other
 * duplicate key (the handler's own unique keys, e.g. two events racing to open the same
 * notification group) is a failure to retry, never "already applied": taking it as
 * applied would ack an event whose writes were rolled back, and lose them.
 */
function isClaimTaken(err: unknown, consumer: string, eventIds: readonly bigint[]): boolean {
  if (!isDuplicateKey(err, "PRIMARY")) return false;
  // MariaDB names the entry as the key's columns joined by '-': 'consumer-eventId'.
  const message = (err as { sqlMessage?: string }).sqlMessage ?? "";
  return eventIds.some((id) => message.includes(`'${consumer}-${id}'`));
}

/**
 * `applyOnce` in as few round trips as the handler's logic allows (kit/mysql.ts
 * withBatchedTransaction; the pool must allow multiple statements): `fn` gets the batched
 * transaction and `claim`, the statement that records the event id, to send first in its
 * first batch. Returns false, with nothing written, when the event was already applied
 * (the claim's duplicate key), as `applyOnce` does.
 */
export async function applyOnceBatched(pool: Pool, consumer: string, eventId: bigint, fn: (tx: BatchedTx, claim: Statement) => Promise<void>): Promise<boolean> {
  try {
    await withBatchedTransaction(pool, (tx) => fn(tx, { sql: "INSERT INTO processed_events (consumer, event_id) VALUES (?, ?)", params: [consumer, eventId] }));
    return true;
  } catch (err) {
    if (isClaimTaken(err, consumer, [eventId])) return false;
    throw err;
  }
}

/**
 * `applyOnceBatched` for several events handled together (e.g. a consumer's group
 * commit): `claim` records all their ids in one multi-row INSERT. Returns false, with
 * nothing written, when any of them was already applied (the claim's duplicate key):
 * the caller then applies them one by one (`applyOnce`/`applyOnceBatched`), which skips
 * exactly the applied ones.
 */
export async function applyAllOnceBatched(pool: Pool, consumer: string, eventIds: readonly bigint[], fn: (tx: BatchedTx, claim: Statement) => Promise<void>): Promise<boolean> {
  if (eventIds.length === 0) return true;
  try {
    await withBatchedTransaction(pool, (tx) =>
      fn(tx, { sql: `INSERT INTO processed_events (consumer, event_id) VALUES ${eventIds.map(() => "(?, ?)").join(", ")}`, params: eventIds.flatMap((id) => [consumer, id]) }),
    );
    return true;
  } catch (err) {
    if (isClaimTaken(err, consumer, eventIds)) return false;
    throw err;
  }
}
