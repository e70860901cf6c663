/**
 * Outbox, relay and consumers against real MariaDB and NATS JetStream. The sample event
 * type is identity's AccountCreated; the kit itself knows no domain.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { AccountCreatedSchema, type AccountCreated } from "#gen/oasis/identity/v1/events_pb.ts";
import { connectBus, domainStreamConfig, ensureStream, eventSubject, natsHeaders, streamName, type Bus } from "./bus.ts";
import { applyAllOnceBatched, applyOnce, applyOnceBatched, on, startConsumer, type EventMeta, type RunningConsumer } from "./consumer.ts";
import { createIdGenerator } from "./ids.ts";
import { createLogger } from "./logger.ts";
import { dropDatabase, openDatabase, select, withTransaction, type Pool } from "./mysql.ts";
import { createOutbox, type Outbox } from "./outbox.ts";
import { cleanupNamespace, testNamespace } from "./testing/namespace.ts";
import { until as pollFor } from "./testing/until.ts";
import { toBinary } from "@bufbuild/protobuf";
import { readEdges } from "../demo/data.ts";
import { untilTrue } from "./testing/until.ts";
import type { JetStreamClient, JetStreamPublishOptions } from "@nats-io/jetstream";

const ns = testNamespace();
const database = `oasis_${ns}_kit`;
const log = createLogger("kit-test", "silent");
const url = process.env.OASIS_MYSQL_URL ?? "mysql://root@127.0.0.1:3306";
let db: Pool;
let bus: Bus;
let outbox: Outbox;
const consumers: RunningConsumer[] = [];
const members = [...new Set(readEdges().flat())];
/** Messages JetStream holds in the test's identity stream (each event once, after dedup). */
const storedEvents = async () => (await bus.jsm.streams.info(domainStreamConfig(ns, "identity").name)).state.messages;

beforeAll(async () => {
  db = await openDatabase({ url, database, log });
  bus = await connectBus({ url: process.env.OASIS_NATS_URL ?? "nats://127.0.0.1:4222", namespace: ns, name: "kit-test", log });
  await ensureStream(bus.jsm, domainStreamConfig(ns, "identity"), log);
  outbox = createOutbox({ pool: db, js: bus.js, ids: createIdGenerator(7), namespace: ns, log, pollMs: 50 });
});

afterAll(async () => {
  for (const c of consumers) await c.stop();
  await outbox?.stop();
  await bus?.close();
  await db?.end();
  await dropDatabase(url, database);
  await cleanupNamespace(ns);
});

test("an event leaves only if its transaction commits, and arrives exactly once", async () => {
  const seen: Array<{ event: AccountCreated; meta: EventMeta }> = [];
  consumers.push(
    await startConsumer({
      bus,
      log,
      name: "kit-test-once",
      handlers: [on(AccountCreatedSchema, async (event, meta) => void seen.push({ event, meta }))],
    }),
  );
  const committed = await withTransaction(db, (tx) => outbox.add(tx, AccountCreatedSchema, { userId: BigInt(members[0]!), handle: "reed_a" }));
  await withTransaction(db, async (tx) => {
    await outbox.add(tx, AccountCreatedSchema, { userId: BigInt(members[1]!), handle: "reed_rolled_back" });
    throw new Error("roll back");
  }).catch(() => {});
  expect(await outbox.flush()).toBe(1);
  await untilTrue(() => seen.length >= 1, 10_000, 20);
  // Instead of sleeping to see whether more arrives: the outbox holds only the committed
  // row, now sent, and the stream holds one message, so nothing else can be delivered.
  expect(await select<{ id: string; sent: number }>(db, "SELECT id, sent_at IS NOT NULL AS sent FROM outbox")).toEqual([{ id: String(committed), sent: 1 }]);
  expect(await storedEvents()).toBe(1);
  expect(seen.map((s) => s.event.handle)).toEqual(["reed_a"]);
  expect(seen[0]!.meta.eventId).toBe(committed);
});

test("a relay crash after publishing but before marking sent does not duplicate the event", async () => {
  const seen: bigint[] = [];
  consumers.push(
    await startConsumer({
      bus,
      log,
      name: "kit-test-crash",
      deliver: "new",
      handlers: [{ schema: AccountCreatedSchema, handle: async (_e, meta) => void seen.push(meta.eventId) }],
    }),
  );
  const id = await withTransaction(db, (tx) => outbox.add(tx, AccountCreatedSchema, { userId: BigInt(members[2]!), handle: "reed_b" }));
  const storedBefore = await storedEvents();
  // What a relay does before it dies: publish the row (same subject, same Nats-Msg-Id)...
  const h = natsHeaders();
  h.set("Oasis-Event-Type", AccountCreatedSchema.typeName);
  const first = await bus.js.publish(eventSubject(ns, AccountCreatedSchema), toBinary(AccountCreatedSchema, create(AccountCreatedSchema, { userId: BigInt(members[2]!), handle: "reed_b" })), {
    msgID: String(id),
    headers: h,
  });
  expect(first.duplicate).toBe(false);
  // ...and never marks it sent. The restarted relay publishes it again:
  expect(await outbox.flush()).toBe(1);
  await untilTrue(() => seen.length >= 1, 10_000, 20);
  // JetStream dropped the second publish (same Nats-Msg-Id): it holds the event once, so
  // no second delivery can follow; no sleep needed to see none comes.
  expect(await storedEvents()).toBe(storedBefore + 1);
  expect(seen).toEqual([id]);
});

test("a batch leaves chained in one go, in order; a refused link makes the rest go one at a time, each event once", async () => {
  const seen: bigint[] = [];
  consumers.push(
    await startConsumer({
      bus,
      log,
      name: "kit-test-chain",
      deliver: "new",
      handlers: [on(AccountCreatedSchema, async (_e, meta) => void seen.push(meta.eventId))],
    }),
  );
  // The relay's JetStream client, watched: which row each publish carried, chained to
  // which; `fail` makes the publish of one row id fail once, before or after it reached
  // the server (a refused link, or an ack lost on the way back).
  const calls: Array<{ id: string; after?: string }> = [];
  let fail: { id: string; reached: boolean } | undefined;
  const js = {
    async publish(subject: string, payload: Uint8Array, o: Partial<JetStreamPublishOptions>) {
      calls.push({ id: o.msgID!, after: o.expect?.lastMsgID });
      const f = fail;
      if (f && f.id === o.msgID) {
        const { reached } = f;
        fail = undefined;
        if (reached) await bus.js.publish(subject, payload, o);
        throw new Error("publish failed (test)");
      }
      return bus.js.publish(subject, payload, o);
    },
  } as unknown as JetStreamClient;
  const relay = createOutbox({ pool: db, js, ids: createIdGenerator(8), namespace: ns, log });
  const addRows = (n: number) =>
    withTransaction(db, async (tx) => {
      const out: bigint[] = [];
      for (let i = 0; i < n; i++) out.push(await relay.add(tx, AccountCreatedSchema, { userId: BigInt(members[10 + i]!), handle: `reed_chain_${i}` }));
      return out;
    });
  const storedBefore = await storedEvents();

  // In one go: every row after the first chained to the row before it.
  const first = await addRows(12);
  expect(await relay.flush()).toBe(12);
  expect(calls).toEqual(first.map((id, i) => ({ id: String(id), after: i === 0 ? undefined : String(first[i - 1]) })));
  await untilTrue(() => seen.length >= 12, 10_000, 20);
  expect(seen).toEqual(first);

  // A link refused before it reached JetStream, then one whose ack was lost after: the rows
  // after it are refused (or stored) by the chain, and published again one at a time.
  for (const reached of [false, true]) {
    calls.length = 0;
    seen.length = 0;
    const rows = await addRows(8);
    fail = { id: String(rows[3]), reached };
    expect(await relay.flush()).toBe(8);
    // 8 chained, then rows 3.. one at a time, unchained.
    expect(calls.slice(8)).toEqual(rows.slice(3).map((id) => ({ id: String(id), after: undefined })));
    await untilTrue(() => seen.length >= 8, 10_000, 20);
    expect(seen).toEqual(rows);
  }
  // Each event once in the stream: nothing more can be delivered, no sleep needed.
  expect(await storedEvents()).toBe(storedBefore + 12 + 8 + 8);
  expect(await select<{ n: string }>(db, "SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL")).toEqual([{ n: "0" }]);
});

test("batched passes (two round trips): two relays at once publish every row once, in order; a failed publish leaves its rows unsent", async () => {
  const seen: bigint[] = [];
  consumers.push(
    await startConsumer({
      bus,
      log,
      name: "kit-test-batched",
      deliver: "new",
      handlers: [on(AccountCreatedSchema, async (_e, meta) => void seen.push(meta.eventId))],
    }),
  );
  const pools = [await openDatabase({ url, database, log, multipleStatements: true }), await openDatabase({ url, database, log, multipleStatements: true })];
  try {
    const ids = createIdGenerator(9);
    const relays = pools.map((pool) => createOutbox({ pool, js: bus.js, ids, namespace: ns, log, batched: true, batchSize: 7 }));
    const storedBefore = await storedEvents();
    const written: bigint[] = [];
    for (let t = 0; t < 6; t++) {
      written.push(
        ...(await withTransaction(db, async (tx) => {
          const out: bigint[] = [];
          for (let i = 0; i < 10; i++) out.push(await relays[0]!.add(tx, AccountCreatedSchema, { userId: BigInt(members[40 + t * 10 + i]!), handle: `reed_batched_${t}_${i}` }));
          return out;
        })),
      );
    }
    // Both relays at once, batches of 7: they serialize on the rows they lock.
    const sent = await Promise.all(relays.map((r) => r.flush()));
    expect(sent[0]! + sent[1]!).toBe(60);
    await untilTrue(() => seen.length >= 60, 10_000, 20);
    expect(seen).toEqual(written);
    expect(await storedEvents()).toBe(storedBefore + 60);
    expect(await select<{ n: string }>(db, "SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL")).toEqual([{ n: "0" }]);

    // A publish that fails: the pass rolls back and its rows stay unsent, then leave on the next pass.
    const failing = createOutbox({
      pool: pools[0]!,
      js: { publish: async () => Promise.reject(new Error("publish failed (test)")) } as unknown as JetStreamClient,
      ids,
      namespace: ns,
      log,
      batched: true,
    });
    const more = await withTransaction(db, (tx) => failing.add(tx, AccountCreatedSchema, { userId: BigInt(members[100]!), handle: "reed_batched_retry" }));
    await expect(failing.flush()).rejects.toThrow("publish failed (test)");
    expect(await select<{ n: string }>(db, "SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL")).toEqual([{ n: "1" }]);
    expect(await relays[1]!.flush()).toBe(1);
    await untilTrue(() => seen.length >= 61, 10_000, 20);
    expect(seen.at(-1)).toBe(more);
  } finally {
    for (const p of pools) await p.end();
  }
});

test("a relay that waits after each kick (kickDelayMs) still sends every kicked row once, in order", async () => {
  const seen: bigint[] = [];
  consumers.push(
    await startConsumer({
      bus,
      log,
      name: "kit-test-kick-delay",
      deliver: "new",
      handlers: [on(AccountCreatedSchema, async (_e, meta) => void seen.push(meta.eventId))],
    }),
  );
  const pool = await openDatabase({ url, database, log, multipleStatements: true });
  // Polls an hour apart: only the kicks (each followed by the wait) send these rows.
  const relay = createOutbox({ pool, js: bus.js, ids: createIdGenerator(10), namespace: ns, log, batched: true, pollMs: 3_600_000, kickDelayMs: 30 });
  relay.start();
  try {
    await untilTrue(async () => (await select<{ n: string }>(db, "SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL"))[0]!.n === "0", 10_000, 20);
    const written: bigint[] = [];
    for (let i = 0; i < 12; i++) {
      written.push(await withTransaction(db, (tx) => relay.add(tx, AccountCreatedSchema, { userId: BigInt(members[200 + i]!), handle: `reed_kick_${i}` })));
      relay.kick();
    }
    await untilTrue(() => seen.length >= 12, 10_000, 20);
    expect(seen).toEqual(written);
    // JetStream acks before the pass stamps its rows sent: wait for the stamp's commit.
    await untilTrue(async () => (await select<{ n: string }>(db, "SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL"))[0]!.n === "0", 10_000, 20, "the kicked rows stamped sent");
  } finally {
    await relay.stop();
    await pool.end();
  }
});

test("stop() during a pass ends the relay once the pass is done, not a poll later", async () => {
  // The last CI timed out (120 s) in the test above: stopped while a pass was in flight,
  // the relay went on to sleep out its hour-long poll before it looked at `running`.
  let entered: (() => void) | undefined;
  let release: (() => void) | undefined;
  const inPass = new Promise<void>((r) => (entered = r));
  const gate = new Promise<void>((r) => (release = r));
  const js = {
    async publish(subject: string, payload: Uint8Array, o: Partial<JetStreamPublishOptions>) {
      entered!();
      await gate;
      return bus.js.publish(subject, payload, o);
    },
  } as unknown as JetStreamClient;
  const pool = await openDatabase({ url, database, log, multipleStatements: true });
  const relay = createOutbox({ pool, js, ids: createIdGenerator(11), namespace: ns, log, batched: true, pollMs: 3_600_000 });
  try {
    await withTransaction(db, (tx) => relay.add(tx, AccountCreatedSchema, { userId: BigInt(members[300]!), handle: "reed_stop_in_pass" }));
    relay.start();
    await inPass;
    let stopped = false;
    const stopping = relay.stop().then(() => void (stopped = true));
    release!();
    await untilTrue(() => stopped, 10_000, 20, "the relay to stop after its pass");
    await stopping;
    expect(await select<{ n: string }>(db, "SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL")).toEqual([{ n: "0" }]);
  } finally {
    release!();
    await pool.end();
  }
});

test("applyOnce applies an event id once, even when delivered again", async () => {
  await db.query("CREATE TABLE IF NOT EXISTS applied (event_id BIGINT NOT NULL, n INT NOT NULL)");
  const apply = (id: bigint) => applyOnce(db, "kit-test", id, (tx) => tx.query("INSERT INTO applied VALUES (?, 1)", [id]).then(() => {}));
  const results = await Promise.all([apply(99n), apply(99n), apply(99n), apply(100n)]);
  expect(results.filter(Boolean)).toHaveLength(2);
  const rows = await select<{ event_id: string; c: string }>(db, "SELECT event_id, COUNT(*) AS c FROM applied GROUP BY event_id ORDER BY event_id");
  expect(rows).toEqual([{ event_id: "99", c: "1" }, { event_id: "100", c: "1" }]);
});

test("a duplicate key of the handler's own is thrown and retried, never taken as already applied", async () => {
  // Two events racing to open the same unique row (notification's open group): the loser
  // hits the handler's unique key, not the claim. Taken as "applied" it would be acked
  // with its writes rolled back and lost; it must throw (the consumer redelivers).
  const batchedDb = await openDatabase({ url, database, log, multipleStatements: true });
  try {
    await db.query("CREATE TABLE IF NOT EXISTS opened (group_key VARCHAR(32) NOT NULL PRIMARY KEY, event_id BIGINT NOT NULL)");
    await db.query("CREATE TABLE IF NOT EXISTS joined (event_id BIGINT NOT NULL PRIMARY KEY)");
    await db.query("INSERT INTO opened VALUES ('g1', 1)");
    const open = (id: bigint) => (tx: { query(sql: string, params: unknown[]): Promise<unknown> }) => tx.query("INSERT INTO opened VALUES ('g1', ?)", [id]).then(() => {});
    const errors: unknown[] = [];
    await applyOnce(db, "kit-test-own", 201n, open(201n)).catch((e) => errors.push(e));
    await applyOnceBatched(batchedDb, "kit-test-own", 202n, (tx, claim) => tx.run([claim, { sql: "INSERT INTO opened VALUES ('g1', ?)", params: [202n] }], { commit: true }).then(() => {})).catch((e) => errors.push(e));
    await applyAllOnceBatched(batchedDb, "kit-test-own", [203n, 204n], (tx, claim) => tx.run([claim, { sql: "INSERT INTO opened VALUES ('g1', ?)", params: [203n] }], { commit: true }).then(() => {})).catch((e) => errors.push(e));
    expect(errors).toHaveLength(3);
    expect(errors.every((e) => (e as { errno?: number }).errno === 1062)).toBe(true);
    // Nothing was recorded, so the redelivery applies each event (joining the group).
    const claimed = await select<{ c: string }>(db, "SELECT COUNT(*) AS c FROM processed_events WHERE consumer = 'kit-test-own'");
    expect(claimed).toEqual([{ c: "0" }]);
    const join = (id: bigint) => (tx: { query(sql: string, params: unknown[]): Promise<unknown> }) => tx.query("INSERT INTO joined VALUES (?)", [id]).then(() => {});
    expect(await applyOnce(db, "kit-test-own", 201n, join(201n))).toBe(true);
    expect(await applyAllOnceBatched(batchedDb, "kit-test-own", [202n, 203n], (tx, claim) => tx.run([claim, { sql: "INSERT INTO joined VALUES (?), (?)", params: [202n, 203n] }], { commit: true }).then(() => {}))).toBe(true);
    // The claim's own duplicate is still "already applied", in all three forms.
    expect(await applyOnce(db, "kit-test-own", 201n, join(301n))).toBe(false);
    expect(await applyOnceBatched(batchedDb, "kit-test-own", 202n, (tx, claim) => tx.run([claim], { commit: true }).then(() => {}))).toBe(false);
    expect(await applyAllOnceBatched(batchedDb, "kit-test-own", [205n, 203n], (tx, claim) => tx.run([claim], { commit: true }).then(() => {}))).toBe(false);
    const joined = await select<{ event_id: string }>(db, "SELECT event_id FROM joined ORDER BY event_id");
    expect(joined.map((r) => r.event_id)).toEqual(["201", "202", "203"]);
  } finally {
    await batchedDb.end();
  }
});

test("a handler that keeps failing is retried with backoff, then dead-lettered", async () => {
  const attempts: number[] = [];
  consumers.push(
    await startConsumer({
      bus,
      log,
      name: "kit-test-dlq",
      deliver: "new",
      maxDeliver: 3,
      backoffBaseMs: 20,
      handlers: [
        {
          schema: AccountCreatedSchema,
          handle: async (_e, meta) => {
            attempts.push(meta.deliveryCount);
            throw new Error("downstream is broken");
          },
        },
      ],
    }),
  );
  await withTransaction(db, (tx) => outbox.add(tx, AccountCreatedSchema, { userId: BigInt(members[3]!), handle: "reed_c" }));
  await outbox.flush();
  const dlq = streamName(ns, "dlq");
  await untilTrue(() => attempts.length >= 3, 10_000, 20);
  const dead = await pollFor(
    () => bus.jsm.streams.getMessage(dlq, { last_by_subj: `${ns}.oasis.dlq.kit-test-dlq.${eventSubject(ns, AccountCreatedSchema)}` }).catch(() => undefined),
    (m) => m !== undefined,
    5_000,
    50,
  );
  expect(attempts).toEqual([1, 2, 3]);
  expect(dead?.header.get("Oasis-Dlq-Reason")).toBe("downstream is broken");
});

test("a consumer's ack wait is the one it starts with, and a start with another updates the durable", async () => {
  const start = (ackWaitMs: number) =>
    startConsumer({ bus, log, name: "kit-test-ack-wait", deliver: "new", ackWaitMs, handlers: [{ schema: AccountCreatedSchema, handle: async () => {} }] });
  const first = await start(2_000);
  await first.stop();
  expect((await bus.jsm.consumers.info(first.stream, first.durable)).config.ack_wait).toBe(2_000 * 1_000_000);
  const second = await start(7_000);
  consumers.push(second);
  expect((await bus.jsm.consumers.info(second.stream, second.durable)).config.ack_wait).toBe(7_000 * 1_000_000);
});

test("stream settings the server does not keep stop the process (NATS 2.9 drops unknown ones)", async () => {
  const want = { ...domainStreamConfig(ns, "ttltest"), allow_msg_ttl: true };
  const err = await ensureStream(bus.jsm, want).catch((e: Error) => e);
  const info = await bus.jsm.streams.info(want.name).catch(() => undefined);
  // Either the server understood the setting (newer NATS) or we refused to go on.
  if (info?.config.allow_msg_ttl) expect(err).toBeUndefined();
  else expect(String(err)).toContain("allow_msg_ttl");
});

test("a batch consumer gets what arrived together in stream order, acks after the batch, and redoes a failed batch event by event", async () => {
  const batches: string[][] = [];
  const alone: string[] = [];
  /** Events as applied, by the batch or alone. */
  const applied: string[] = [];
  let failed: string[] = [];
  let failNext = false;
  consumers.push(
    await startConsumer({
      bus,
      log,
      name: "kit-test-batch",
      deliver: "new",
      backoffBaseMs: 20,
      handlers: [on(AccountCreatedSchema, async (e) => void (alone.push(e.handle), applied.push(e.handle)))],
      batch: {
        max: 8,
        async handle(events) {
          const handles = events.map((b) => (b.event as AccountCreated).handle);
          if (events.some((b) => b.schema !== AccountCreatedSchema || b.meta.eventId <= 0n)) throw new Error("bad batch item");
          if (failNext) {
            failNext = false;
            failed = handles;
            throw new Error("batch failed (test)");
          }
          batches.push(handles);
          applied.push(...handles);
        },
      },
    }),
  );
  const addRows = (from: number, n: number) =>
    withTransaction(db, async (tx) => {
      for (let i = 0; i < n; i++) await outbox.add(tx, AccountCreatedSchema, { userId: BigInt(members[40 + from + i]!), handle: `reed_batch_${from + i}` });
    });
  // 20 events published in one relay pass arrive together: batches of at most 8, in order.
  await addRows(0, 20);
  await outbox.flush();
  await untilTrue(() => batches.flat().length >= 20, 10_000, 20);
  expect(batches.flat()).toEqual(Array.from({ length: 20 }, (_, i) => `reed_batch_${i}`));
  expect(Math.max(...batches.map((b) => b.length))).toBeLessThanOrEqual(8);
  expect(batches.length).toBeLessThan(20); // they did come together
  expect(alone).toEqual([]);
  // Every event acknowledged: nothing pending or waiting for an ack.
  // Acks travel after the handler returns, so the server counts them a moment later: wait
  // for the condition (5 s at most), then check it; an ack never sent leaves it above 0.
  let outstanding = -1;
  for (const end = Date.now() + 5_000; Date.now() < end; await Bun.sleep(20)) {
    const info = await bus.jsm.consumers.info(streamName(ns, "identity"), `${ns}-kit-test-batch`);
    outstanding = info.num_pending + info.num_ack_pending;
    if (outstanding === 0) break;
  }
  expect(outstanding).toBe(0);
  // A failed batch: its events go one at a time through their own handler, in order,
  // before any later batch.
  failNext = true;
  await addRows(20, 3);
  await outbox.flush();
  await untilTrue(() => applied.length >= 23, 10_000, 20);
  expect(applied.slice(20)).toEqual(["reed_batch_20", "reed_batch_21", "reed_batch_22"]);
  expect(failed.length).toBeGreaterThan(0);
  expect(alone).toEqual(failed);
  await untilTrue(async () => {
    const i = await bus.jsm.consumers.info(streamName(ns, "identity"), `${ns}-kit-test-batch`);
    return i.num_pending + i.num_ack_pending === 0;
  }, 10_000, 20);
});
