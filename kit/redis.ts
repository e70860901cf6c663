/**
 * Redis (ioredis) for one service: every key gets the service's prefix
 * (`oasis:<service>:`, namespaced in tests), so services sharing a Redis never touch
 * each other's keys and a test's keys can be deleted by prefix.
 *
 * Traces (kit/tracing.ts, only while tracing is on): a CLIENT span per `pipeline()` or
 * `multi()` exec, named `redis PIPELINE` / `redis MULTI`, with `db.system` "redis",
 * `db.operation` and `db.statement_count` (the commands queued); never keys or values.
 * Single commands are not spanned (auto-pipelined, they are the bulk of the calls).
 */
import { tracingChannel } from "node:diagnostics_channel";
import { Redis, type ChainableCommander } from "ioredis";
import type { Logger } from "./logger.ts";
import { endSpan, SpanKind, startSpan, tracingOn } from "./tracing.ts";

export type { Redis };

/**
 * ioredis 6 wraps every command in the `ioredis:command` tracing channel unless the
 * channel's `hasSubscribers` is false, and Bun's TracingChannel has no `hasSubscribers`
 * (Node's has, since 22): so each command paid `tracePromise` and an argument sanitizer
 * with nobody listening (2.7% of the edge's CPU on page-path reads). The getter below
 * gives Bun's TracingChannel the one Node has: true while any of its channels has a
 * subscriber. OASIS_IOREDIS_TRACE_ALWAYS=1 leaves Bun's as it is (the bench's A/B).
 */
export function patchTracingChannel(): void {
  const proto = Object.getPrototypeOf(tracingChannel("oasis:probe")) as object;
  if ("hasSubscribers" in proto) return;
  Object.defineProperty(proto, "hasSubscribers", {
    configurable: true,
    get(this: Record<string, { hasSubscribers?: boolean } | undefined>) {
      return ["start", "end", "asyncStart", "asyncEnd", "error"].some((k) => this[k]?.hasSubscribers === true);
    },
  });
}
if (process.env.OASIS_IOREDIS_TRACE_ALWAYS !== "1") patchTracingChannel();

export interface RedisOptions {
  readonly url: string;
  readonly keyPrefix: string;
  readonly log: Logger;
  /**
   * ioredis's auto-pipelining (default true): commands made in one tick go out as one
   * pipeline, and the next batch waits until that one's replies are in. False: each
   * command is written when made (the edge's page path, OASIS_EDGE_PAGE_AUTOPIPELINE).
   */
  readonly autoPipelining?: boolean;
  /**
   * Commands written in one turn of the event loop leave in one socket write (default
   * false: one write per command or pipeline). See coalesceWrites.
   */
  readonly coalesceWrites?: boolean;
}

export function createRedis(opts: RedisOptions): Redis {
  const redis = new Redis(opts.url, {
    keyPrefix: opts.keyPrefix,
    // Fail a command after two reconnect attempts instead of queueing it forever: every
    // call has a deadline, and a caller can fall back (e.g. rebuild from MySQL).
    maxRetriesPerRequest: 2,
    connectTimeout: 5_000,
    enableAutoPipelining: opts.autoPipelining ?? true,
  });
  redis.on("error", (err) => opts.log.warn({ err: err.message }, "redis error"));
  if (opts.coalesceWrites) coalesceWrites(redis);
  return traceBatches(redis);
}

type Chunk = string | Buffer;

/**
 * Makes `redis` send the commands written during one turn of the event loop in one
 * socket write, at the turn's end (setImmediate), in the order written; returns `redis`.
 * On a loopback TCP connection each write is a send(2) that also delivers the segment to
 * Redis, ~50-75 us of CPU on this box whatever its size (the edge's page path, design note
 * 59), so pages read at once share one. Unlike ioredis's auto-pipelining no Pipeline is
 * built and nothing waits for earlier replies: commands, their promises and their order
 * are ioredis's own, only the bytes leave later (by at most the rest of the turn). Each
 * connection ioredis opens (reconnects too) is wrapped from its `connect` event on,
 * before its handshake, so every byte of it goes through the one queue.
 */
export function coalesceWrites(redis: Redis): Redis {
  redis.on("connect", () => {
    const stream = (redis as unknown as { stream: { write(chunk: Chunk): boolean; destroyed?: boolean } }).stream;
    const write = stream.write.bind(stream);
    let pending: Chunk[] = [];
    let text = true;
    const flush = () => {
      const chunks = pending;
      const allText = text;
      pending = [];
      text = true;
      if (stream.destroyed) return; // ioredis fails the commands of a closed stream itself
      if (chunks.length === 1) write(chunks[0]!);
      else write(allText ? (chunks as string[]).join("") : Buffer.concat(chunks.map((c) => (typeof c === "string" ? Buffer.from(c) : c))));
    };
    stream.write = (chunk: Chunk) => {
      if (pending.length === 0) setImmediate(flush);
      if (typeof chunk !== "string") text = false;
      pending.push(chunk);
      return true;
    };
  });
  return redis;
}

/**
 * Wraps `redis.pipeline()` and `redis.multi()` so that, while tracing is on, each exec
 * of the batch they return runs in a span; returns `redis`. Off, the batch is returned
 * untouched: one `tracingOn()` check per batch.
 */
export function traceBatches(redis: Redis): Redis {
  const pipeline = redis.pipeline.bind(redis);
  const multi = redis.multi.bind(redis) as (...args: unknown[]) => ChainableCommander;
  redis.pipeline = ((...args: Parameters<Redis["pipeline"]>) => spanExec(pipeline(...args), "PIPELINE")) as Redis["pipeline"];
  redis.multi = ((...args: unknown[]) => {
    const m = multi(...args);
    // multi({ pipeline: false }) answers with a promise of "OK", not a batch.
    return typeof (m as { exec?: unknown }).exec === "function" ? spanExec(m, "MULTI") : m;
  }) as Redis["multi"];
  return redis;
}

function spanExec(batch: ChainableCommander, operation: "PIPELINE" | "MULTI"): ChainableCommander {
  if (!tracingOn()) return batch;
  const exec = batch.exec.bind(batch);
  batch.exec = (async (...args: Parameters<ChainableCommander["exec"]>) => {
    const span = startSpan(`redis ${operation}`, SpanKind.CLIENT, undefined, {
      "db.system": "redis",
      "db.operation": operation,
      // The queue's length; a MULTI's holds the MULTI itself (EXEC is added by exec).
      "db.statement_count": (batch as unknown as { length: number }).length - (operation === "MULTI" ? 1 : 0),
    });
    try {
      const out = await exec(...args);
      endSpan(span);
      return out;
    } catch (err) {
      endSpan(span, err);
      throw err;
    }
  }) as ChainableCommander["exec"];
  return batch;
}

/**
 * Commands from several modules sent to Redis in one round trip: each module queues its
 * commands on `batch` (an ioredis pipeline: custom Lua commands defined with
 * `defineCommand` are there too), then the caller sends them all with `exec`, e.g. a
 * like's counter, the liker's viewer state and a cache invalidation
 * (services/interaction/domain/likes.ts). Traced like any `pipeline()` (one span).
 */
export class Pipeline {
  readonly batch: ChainableCommander;

  constructor(redis: Redis) {
    this.batch = redis.pipeline();
  }

  /** Commands queued so far. */
  get length(): number {
    return (this.batch as unknown as { length: number }).length;
  }

  /**
   * Sends the queued commands; resolves to each command's error (null when it succeeded),
   * in the order queued, so each module can keep its own error policy. Rejects only when
   * the batch as a whole could not be sent (connection lost and retries spent).
   */
  async exec(): Promise<Array<Error | null>> {
    if (this.length === 0) return [];
    const results = (await this.batch.exec()) ?? [];
    return results.map(([err]) => err);
  }
}

/** Deletes every key under `prefix` (tests). SCAN, not KEYS, so Redis keeps serving. */
export async function deleteKeysWithPrefix(url: string, prefix: string): Promise<number> {
  if (!prefix) throw new Error("refusing to delete without a prefix");
  const redis = new Redis(url, { maxRetriesPerRequest: 2 });
  let deleted = 0;
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      cursor = next;
      if (keys.length) deleted += await redis.unlink(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
  return deleted;
}
