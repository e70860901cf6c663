/**
 * Transactional outbox (Richardson, "Microservices Patterns", ch. 3): a change and the
 * event announcing it are committed together, so an event is never lost (the change
 * committed, the publish did not) and never invented (the publish happened, the change
 * rolled back).
 *
 * `add(tx, schema, message)` inserts the serialized event into `outbox` inside the
 * caller's transaction. The relay publishes unsent rows in id order with
 * `Nats-Msg-Id` = event id, waits for JetStream's ack, then stamps `sent_at`. A crash
 * between ack and stamp re-publishes the row on restart: JetStream drops it inside its
 * duplicate window and consumers drop it by event id (kit/consumer.ts), so consumers
 * see each event exactly once.
 *
 * The relay wakes on `kick()` (called after commits that added events) and otherwise
 * polls every `pollMs`, which also picks up rows left by a crashed replica. Replicas
 * serialize on the rows they lock (READ COMMITTED, FOR UPDATE), so events leave in order.
 *
 * A batch is published in one round trip, not one per row: every publish is sent at once,
 * each after the first carrying `Nats-Expected-Last-Msg-Id` = the previous row's id, so
 * JetStream stores a row only right after the one before it. Order therefore holds even
 * though nothing waits between publishes: if a row is refused (a wrong last id because
 * another publisher came between, a timeout, anything), every later row is refused too,
 * and the relay publishes the rest again one at a time, waiting for each ack; the ones
 * JetStream did store are dropped by its duplicate window (same Nats-Msg-Id).
 * (A last message id, not a last sequence: a sequence can be matched by someone else's
 * message, an id only by the row before.) `chained: false` publishes one at a time always.
 */
import { create, toBinary, type DescMessage, type MessageInitShape } from "@bufbuild/protobuf";
import type { JetStreamClient } from "@nats-io/jetstream";
import type { Pool } from "mysql2/promise";
import { currentCall, formatTraceparent, newSpanId } from "./call-context.ts";
import { eventSubject, natsHeaders } from "./bus.ts";
import type { IdGenerator } from "./ids.ts";
import type { Logger } from "./logger.ts";
import type { Statement, Tx } from "./mysql.ts";
import { Gauge, type Registry } from "prom-client";
import { idTimeMs } from "./ids.ts";
import { SpanKind, startSpan, traceparentOf, tracingOn } from "./tracing.ts";

/** Event metadata carried in NATS headers (payload stays the bare event message). */
export const eventHeaders = {
  type: "Oasis-Event-Type",
  occurredAt: "Oasis-Occurred-At",
  requestId: "Oasis-Request-Id",
  traceparent: "traceparent",
} as const;

export interface Outbox {
  /** Writes an event in `tx`; returns its id. Published after commit. */
  add<D extends DescMessage>(tx: Tx, schema: D, message: MessageInitShape<D>): Promise<bigint>;
  /**
   * The INSERT of an event as a statement for a batched transaction (kit/mysql.ts
   * withBatchedTransaction), inserted only if the SQL condition `when` holds at that
   * point of the batch (e.g. `@created = 1`; a constant of the caller's code, never
   * input; or a Statement whose `sql` is such a constant with `?` placeholders for its
   * `params`, e.g. `EXISTS(SELECT 1 FROM follows WHERE follower_id = ? AND id = ?)`).
   * Published after commit, like `add`. `payload`: the message's encoding when the
   * caller has it already (it is stored as given, not encoded again), or an SQL
   * expression of the caller's code that gives it at that point of the batch (e.g. a
   * session variable an earlier statement set to the encoding, so bytes the batch stores
   * several times are sent once).
   */
  statement<D extends DescMessage>(schema: D, message: MessageInitShape<D>, when?: string | Statement, payload?: Uint8Array | { readonly sql: string }): Statement;
  /**
   * As `statement`, for an event whose content the batch decides: `variants` are the
   * possible messages (one id, one set of headers), and the one stored is
   * `variants[pick]`, `pick` an SQL expression giving a 0-based index at that point of
   * the batch (a constant of the caller's code, e.g. `@a + 2 * @b` over session variables
   * an earlier statement of the batch set; it must name one of the variants). `when` as
   * for `statement`. Published after commit, like `add`.
   */
  statementOf<D extends DescMessage>(schema: D, variants: ReadonlyArray<MessageInitShape<D>>, pick: string, when?: string | Statement): Statement;
  /**
   * The event as a typed ConditionalEvent (statementOf's row before it is SQL): one
   * message, or `variants` chosen by `pick` (an SQL expression of the caller's code, or
   * one with parameters). `insertEvents` turns one or several into a statement, so a
   * batch may store several in one. Published after commit, like `add`.
   */
  conditional<D extends DescMessage>(schema: D, variants: ReadonlyArray<MessageInitShape<D>>, when: string | Statement, pick?: string | SqlPart): ConditionalEvent;
  /** Wakes the relay now (after a commit that added events). */
  kick(): void;
  /** Starts the relay loop. */
  start(): void;
  /** Stops the relay after its current batch. */
  stop(): Promise<void>;
  /** Publishes everything pending once; returns how many rows were sent (tests, tools). */
  flush(): Promise<number>;
}

export interface OutboxOptions {
  readonly pool: Pool;
  readonly js: JetStreamClient;
  readonly ids: IdGenerator;
  readonly namespace: string;
  readonly log: Logger;
  /** Rows per relay transaction. */
  readonly batchSize?: number;
  /** Fallback poll interval, ms. */
  readonly pollMs?: number;
  /**
   * Publish a batch in one round trip, chained by expected last message id (default
   * true; false: one publish and ack at a time, the A/B of bench/social.ts).
   */
  readonly chained?: boolean;
  /**
   * The pool allows several statements per query (kit/mysql.ts multipleStatements): a
   * relay pass then takes two MariaDB round trips around the publish (isolation level,
   * START TRANSACTION and the locking SELECT; then UPDATE and COMMIT) instead of five,
   * and a pass right after a kick or a full batch skips the "anything unsent?" check.
   * Default false (the pool may not allow it); OASIS_OUTBOX_BATCHED=0 keeps the old pass.
   */
  readonly batched?: boolean;
  /**
   * Ms the relay waits after a kick before its pass (default 0: at once), so the commits
   * of those milliseconds leave in one pass (one locking read, one chained publish, one
   * stamp) instead of a pass each; the events leave that much later.
   */
  readonly kickDelayMs?: number;
  /**
   * Longest wait between polls that find nothing, ms (default `pollMs`: no backoff).
   * Each poll that finds nothing and was not preceded by a kick doubles the wait, up to
   * this; a kick or a pass that sent anything brings it back to `pollMs`. A service whose
   * commits kick its own relay needs the poll only for rows another replica left behind
   * (a crash), so an idle or never-writing service polls that much less
   * (OASIS_OUTBOX_IDLE_POLL_MAX_MS).
   */
  readonly idlePollMaxMs?: number;
  /**
   * Registry for the backlog gauges (`outbox_backlog_events`,
   * `outbox_oldest_unsent_age_seconds`), read from MySQL when scraped (one index range
   * read of the unsent rows); omitted: none.
   */
  readonly registry?: Registry;
}

interface OutboxRow {
  id: string;
  subject: string;
  payload: Buffer;
  headers: string | Record<string, string>;
}

/** SQL of the caller's code (never input) with the values of its `?` placeholders. */
export interface SqlPart {
  readonly sql: string;
  readonly params: readonly unknown[];
}

/**
 * An event's outbox row whose insertion a batched transaction decides
 * (`Outbox.conditional`): the id, subject and headers fixed when it was built (in the
 * call's context: its request id and trace), the stored bytes `payloads[pick]` (`pick` an
 * SQL expression giving a 0-based index at that point of the batch; absent: the one
 * payload), inserted only if the SQL condition `when` holds there. A typed value, so a
 * group commit can change `pick` for its batch and store many events in one statement
 * (`insertEvents`) without taking SQL text apart.
 */
export interface ConditionalEvent {
  readonly id: bigint;
  readonly subject: string;
  /** The NATS headers as stored (JSON). */
  readonly headers: string;
  /** One payload, or the variants `pick` chooses among. */
  readonly payloads: readonly Buffer[];
  readonly pick?: SqlPart;
  readonly when: SqlPart;
}

/** One event's row as an SQL SELECT (id, subject, payload, headers) with its parameters, in placeholder order. */
function eventSelect(ev: ConditionalEvent): SqlPart {
  if (ev.payloads.length === 0 || (ev.payloads.length > 1 && !ev.pick)) throw new Error("a conditional event needs one payload, or variants and a pick");
  const payload = ev.pick ? `ELT((${ev.pick.sql}) + 1, ${ev.payloads.map(() => "?").join(", ")})` : "?";
  return {
    sql: `SELECT ?, ?, ${payload}, ? FROM DUAL WHERE ${ev.when.sql}`,
    params: [ev.id, ev.subject, ...(ev.pick?.params ?? []), ...ev.payloads, ev.headers, ...ev.when.params],
  };
}

/**
 * Conditional events (`Outbox.conditional`) as one statement: one INSERT ... SELECT
 * whose rows are their SELECTs joined by UNION ALL, each row inserted only if its own
 * `when` holds, so a group commit (kit/tx-batcher.ts) stores its calls' events in one
 * statement instead of one each. One event: `INSERT ... SELECT ... WHERE when`. Throws
 * on an empty list.
 */
export function insertEvents(events: readonly ConditionalEvent[]): Statement {
  if (events.length === 0) throw new Error("insertEvents needs at least one event");
  const selects = events.map(eventSelect);
  return { sql: `INSERT INTO outbox (id, subject, payload, headers) ${selects.map((s) => s.sql).join(" UNION ALL ")}`, params: selects.flatMap((s) => s.params) };
}

export function createOutbox(opts: OutboxOptions): Outbox {
  const batchSize = opts.batchSize ?? 200;
  const pollMs = opts.pollMs ?? 250;
  const chained = opts.chained ?? true;
  const batched = opts.batched ?? false;
  const kickDelayMs = opts.kickDelayMs ?? 0;
  const idlePollMaxMs = Math.max(pollMs, opts.idlePollMaxMs ?? pollMs);
  /** After a kick: the kick delay, so more commits join the pass. */
  const gather = () => (kickDelayMs > 0 && running ? new Promise<void>((r) => setTimeout(r, kickDelayMs)) : undefined);
  let running = false;
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  let kicked = false;
  if (opts.registry) {
    let last: Promise<{ n: number; oldest: string | null }> | undefined;
    // One query per scrape, shared by both gauges.
    const backlog = () =>
      (last ??= opts.pool
        .query("SELECT COUNT(*) AS n, MIN(id) AS oldest FROM outbox WHERE sent_at IS NULL")
        .then(([rows]) => (rows as Array<{ n: number; oldest: string | null }>)[0]!)
        .finally(() => setTimeout(() => (last = undefined), 0)));
    new Gauge({
      name: "outbox_backlog_events",
      help: "Events written to the outbox and not yet published to JetStream.",
      registers: [opts.registry],
      async collect() {
        this.set(Number((await backlog()).n));
      },
    });
    new Gauge({
      name: "outbox_oldest_unsent_age_seconds",
      help: "Age of the oldest unpublished outbox event, seconds (from its time-ordered id); 0 when none.",
      registers: [opts.registry],
      async collect() {
        const { oldest } = await backlog();
        this.set(oldest === null ? 0 : Math.max(0, (Date.now() - idTimeMs(BigInt(oldest))) / 1000));
      },
    });
  }

  /** Publishes one row and waits for its ack; `after`: only if the stream's last message is that id. */
  function publish(row: OutboxRow, after?: string): Promise<unknown> {
    const h = natsHeaders();
    const stored = typeof row.headers === "string" ? (JSON.parse(row.headers) as Record<string, string>) : row.headers;
    for (const [k, v] of Object.entries(stored)) h.set(k, v);
    return opts.js.publish(row.subject, row.payload, { msgID: row.id, headers: h, timeout: 5_000, ...(after ? { expect: { lastMsgID: after } } : {}) });
  }

  /**
   * Publishes `rows` in order: all at once, chained (see the top of this file), then from
   * the first refused row on one at a time. Throws if a one-at-a-time publish fails.
   */
  async function publishInOrder(rows: readonly OutboxRow[]): Promise<void> {
    let from = 0;
    if (chained && rows.length > 1) {
      const acks = await Promise.allSettled(rows.map((row, i) => publish(row, i === 0 ? undefined : rows[i - 1]!.id)));
      from = acks.findIndex((a) => a.status === "rejected");
      if (from === -1) return;
      opts.log.debug({ err: (acks[from] as PromiseRejectedResult).reason, row: rows[from]!.id, rest: rows.length - from }, "chained outbox publish refused; publishing the rest one at a time");
    }
    for (const row of rows.slice(from)) await publish(row);
  }

  /** One relay pass: locks up to `batchSize` unsent rows, publishes them, stamps them sent. `check`: look for unsent rows first (a poll). */
  async function relayOnce(check = true): Promise<number> {
    // The poll usually finds nothing: one index-only read instead of a locking
    // transaction keeps an idle service's relay cheap. After a kick there is work.
    if (check || !batched) {
      const [pending] = await opts.pool.query("SELECT id FROM outbox WHERE sent_at IS NULL LIMIT 1");
      if ((pending as unknown[]).length === 0) return 0;
    }
    const select = "SELECT id, subject, payload, headers FROM outbox WHERE sent_at IS NULL ORDER BY id LIMIT ? FOR UPDATE";
    const conn = await opts.pool.getConnection();
    try {
      let batch: OutboxRow[];
      // READ COMMITTED: lock only the rows read, no gap locks that would block writers.
      if (batched) {
        const [results] = await conn.query(`SET TRANSACTION ISOLATION LEVEL READ COMMITTED;\nSTART TRANSACTION;\n${select}`, [batchSize]);
        batch = (results as unknown[])[2] as OutboxRow[];
      } else {
        await conn.query("SET TRANSACTION ISOLATION LEVEL READ COMMITTED");
        await conn.beginTransaction();
        batch = (await conn.query(select, [batchSize]))[0] as OutboxRow[];
      }
      if (batch.length === 0) {
        await conn.commit();
        return 0;
      }
      await publishInOrder(batch);
      const stamp = "UPDATE outbox SET sent_at = CURRENT_TIMESTAMP(3) WHERE id IN (?)";
      if (batched) {
        await conn.query(`${stamp};\nCOMMIT`, [batch.map((r) => r.id)]);
      } else {
        await conn.query(stamp, [batch.map((r) => r.id)]);
        await conn.commit();
      }
      return batch.length;
    } catch (err) {
      await conn.rollback().catch(() => {});
      throw err;
    } finally {
      conn.release();
    }
  }

  async function run(): Promise<void> {
    let failures = 0;
    // Whether the next pass must first look for unsent rows (not after a kick or a full batch).
    let check = true;
    // The wait before the next poll: pollMs, doubled by each poll that finds nothing, up to idlePollMaxMs.
    let idleMs = pollMs;
    while (running) {
      let sent = 0;
      try {
        sent = await relayOnce(check);
        failures = 0;
      } catch (err) {
        failures++;
        opts.log.warn({ err, failures }, "outbox relay failed; will retry");
      }
      check = failures > 0;
      if (sent > 0) idleMs = pollMs;
      if (sent === batchSize) continue;
      const waitMs = failures ? Math.min(5_000, pollMs * 2 ** failures) : idleMs;
      if (kicked && !failures) {
        kicked = false;
        await gather();
        continue;
      }
      // stop() during the pass found no wait to cut short: without this check the loop
      // would sleep a whole poll (an hour in kit/outbox.test.ts) before it saw `running`.
      if (!running) break;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, waitMs);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      wake = undefined;
      check = !kicked || failures > 0;
      if (kicked) idleMs = pollMs;
      else if (!failures) idleMs = Math.min(idlePollMaxMs, idleMs * 2);
      if (kicked && !failures) await gather();
      kicked = false;
    }
  }

  /** A statement's `when`: SQL alone or with its parameters. */
  function condition(when: string | Statement): { sql: string; params: readonly unknown[] } {
    return typeof when === "string" ? { sql: when, params: [] } : { sql: when.sql, params: when.params ?? [] };
  }

  /** An event's outbox row: id, subject, payload, headers (with the current call's request id and trace). */
  function outboxRow<D extends DescMessage>(schema: D, message: MessageInitShape<D>, payload?: Uint8Array): [bigint, string, Buffer, string] {
    const id = opts.ids.next();
    const call = currentCall();
    const headers: Record<string, string> = {
      [eventHeaders.type]: schema.typeName,
      [eventHeaders.occurredAt]: String(Date.now()),
    };
    // A producer span for the event (OTel messaging: "create"), child of the handler's
    // span; consumers' spans name it as their parent through the stored traceparent.
    const span = tracingOn() ? startSpan(`${eventSubject(opts.namespace, schema)} create`, SpanKind.PRODUCER, undefined, { "messaging.system": "nats", "messaging.message.id": String(id) }) : undefined;
    if (call) {
      headers[eventHeaders.requestId] = call.requestId;
      headers[eventHeaders.traceparent] = (span && traceparentOf(span)) ?? formatTraceparent(call.traceId, newSpanId());
    }
    span?.end();
    const bytes = payload ? Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength) : Buffer.from(toBinary(schema, create(schema, message)));
    return [id, eventSubject(opts.namespace, schema), bytes, JSON.stringify(headers)];
  }

  /** Outbox.conditional (see there). */
  function conditional<D extends DescMessage>(schema: D, variants: ReadonlyArray<MessageInitShape<D>>, when: string | Statement, pick?: string | SqlPart): ConditionalEvent {
    if (variants.length === 0 || (variants.length > 1 && pick === undefined)) throw new Error("conditional: one message, or variants and a pick");
    const payloads = variants.map((m) => Buffer.from(toBinary(schema, create(schema, m))));
    // The row's id and headers once, with the first variant's bytes (not encoded again).
    const [id, subject, , headers] = outboxRow(schema, variants[0]!, payloads[0]);
    const cond = condition(when);
    return {
      id,
      subject,
      headers,
      payloads,
      ...(pick === undefined ? {} : { pick: typeof pick === "string" ? { sql: pick, params: [] } : pick }),
      when: { sql: cond.sql, params: [...cond.params] },
    };
  }

  return {
    async add(tx, schema, message) {
      const row = outboxRow(schema, message);
      await tx.query("INSERT INTO outbox (id, subject, payload, headers) VALUES (?, ?, ?, ?)", row);
      return row[0];
    },
    statement(schema, message, when, payload) {
      if (payload !== undefined && !(payload instanceof Uint8Array)) {
        // The bytes come from the batch: the row's id, subject and headers only.
        const [id, subject, , headers] = outboxRow(schema, message, new Uint8Array(0));
        const cond = condition(when ?? "TRUE");
        return { sql: `INSERT INTO outbox (id, subject, payload, headers) SELECT ?, ?, ${payload.sql}, ? FROM DUAL WHERE ${cond.sql}`, params: [id, subject, headers, ...cond.params] };
      }
      const row = outboxRow(schema, message, payload);
      if (when === undefined) return { sql: "INSERT INTO outbox (id, subject, payload, headers) VALUES (?, ?, ?, ?)", params: row };
      const cond = condition(when);
      return { sql: `INSERT INTO outbox (id, subject, payload, headers) SELECT ?, ?, ?, ? FROM DUAL WHERE ${cond.sql}`, params: [...row, ...cond.params] };
    },
    statementOf(schema, variants, pick, when) {
      return insertEvents([conditional(schema, variants, when ?? "TRUE", pick)]);
    },
    conditional,
    kick() {
      kicked = true;
      wake?.();
    },
    start() {
      if (running) return;
      running = true;
      loop = run();
    },
    async stop() {
      running = false;
      wake?.();
      await loop;
    },
    async flush() {
      let total = 0;
      for (;;) {
        const n = await relayOnce();
        total += n;
        if (n < batchSize) return total;
      }
    },
  };
}
