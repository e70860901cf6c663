/**
 * Retention of the kit's tables against the real MariaDB: rows are written through the
 * kit's own outbox, idempotency and consumer-dedup code (AccountCreated events of Reed98
 * members), then aged with UPDATE, and the policy deletes exactly what it no longer keeps.
 * The second test runs it the way services do, on a runtime's timer.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { AccountCreatedSchema } from "#gen/oasis/identity/v1/events_pb.ts";
import { connectBus, domainStreamConfig, ensureStream, type Bus } from "./bus.ts";
import { baseConfig } from "./config.ts";
import { applyOnce } from "./consumer.ts";
import { idempotent } from "./idempotency.ts";
import { createIdGenerator } from "./ids.ts";
import { createLogger } from "./logger.ts";
import { dropDatabase, openDatabase, select, withTransaction, type Pool } from "./mysql.ts";
import { createOutbox } from "./outbox.ts";
import { defaultRetention, pruneKitTables } from "./retention.ts";
import { openRuntime } from "./runtime.ts";
import { cleanupNamespace, testNamespace } from "./testing/namespace.ts";
import { until } from "./testing/until.ts";
import { readEdges } from "../demo/data.ts";

const ns = testNamespace();
const database = `oasis_${ns}_kit`;
const url = process.env.OASIS_MYSQL_URL ?? "mysql://root@127.0.0.1:3306";
const log = createLogger("retention-test", "silent");
const members = [...new Set(readEdges().flat())].slice(0, 40);
let db: Pool;
let bus: Bus;

beforeAll(async () => {
  db = await openDatabase({ url, database, log });
  bus = await connectBus({ url: process.env.OASIS_NATS_URL ?? "nats://127.0.0.1:4222", namespace: ns, name: "retention-test", log });
  await ensureStream(bus.jsm, domainStreamConfig(ns, "identity"), log);
});

afterAll(async () => {
  await bus?.close();
  await db?.end();
  await dropDatabase(url, database);
  await dropDatabase(url, `oasis_${ns}_identity`);
  await cleanupNamespace(ns);
});

/** Writes one AccountCreated event per member through the outbox, an idempotency key and a dedup record each. */
async function writeRows(pool: Pool, first: number, count: number): Promise<bigint[]> {
  const outbox = createOutbox({ pool, js: bus.js, ids: createIdGenerator(9), namespace: ns, log });
  const ids: bigint[] = [];
  for (const n of members.slice(first, first + count)) {
    const eventId = await withTransaction(pool, async (tx) => {
      const key = { scope: "CreateAccount", callerId: null, requestId: `reed-${n}` };
      await idempotent(tx, key, Buffer.alloc(32, n), AccountCreatedSchema, async () => create(AccountCreatedSchema, { userId: BigInt(n), handle: `reed_${n}` }));
      return outbox.add(tx, AccountCreatedSchema, { userId: BigInt(n), handle: `reed_${n}` });
    });
    await applyOnce(pool, "retention-test", eventId, async () => {});
    ids.push(eventId);
  }
  return ids;
}

const inList = (ids: readonly bigint[]) => ids.map(String).join(",");
const count = async (pool: Pool, sql: string) => Number((await select<{ n: string }>(pool, sql))[0]!.n);

test("each table loses exactly the rows its policy no longer keeps, in batches", async () => {
  const old = await writeRows(db, 0, 12);
  const recent = await writeRows(db, 12, 8);
  // Old rows: published two days ago (outbox), keyed eight days ago, deduplicated nine days ago.
  await db.query(`UPDATE outbox SET sent_at = CURRENT_TIMESTAMP(3) - INTERVAL 2 DAY WHERE id IN (${inList(old)})`);
  await db.query(`UPDATE request_log SET created_at = CURRENT_TIMESTAMP(3) - INTERVAL 8 DAY WHERE request_id IN (${members.slice(0, 12).map((n) => `'reed-${n}'`).join(",")})`);
  await db.query(`UPDATE processed_events SET processed_at = CURRENT_TIMESTAMP(3) - INTERVAL 9 DAY WHERE event_id IN (${inList(old)})`);
  // Recent rows: half published now; the other half never published though created long ago.
  await db.query(`UPDATE outbox SET sent_at = CURRENT_TIMESTAMP(3) WHERE id IN (${inList(recent.slice(0, 4))})`);
  await db.query(`UPDATE outbox SET created_at = CURRENT_TIMESTAMP(3) - INTERVAL 30 DAY WHERE id IN (${inList(recent.slice(4))})`);
  // Kept: dedup records younger than the streams' 7-day max_age plus a day.
  await db.query(`UPDATE processed_events SET processed_at = CURRENT_TIMESTAMP(3) - INTERVAL 7 DAY WHERE event_id IN (${inList(recent)})`);

  const report = await pruneKitTables(db, { ...defaultRetention, batchRows: 5 });
  expect(report).toEqual({ outbox: 12, request_log: 12, processed_events: 12 });
  const outboxLeft = await select<{ id: string; sent: number }>(db, "SELECT id, sent_at IS NOT NULL AS sent FROM outbox ORDER BY id");
  expect(outboxLeft.map((r) => BigInt(r.id))).toEqual(recent);
  expect(outboxLeft.filter((r) => Number(r.sent) === 0)).toHaveLength(4); // unsent rows stay, however old
  expect(await count(db, "SELECT COUNT(*) AS n FROM request_log")).toBe(8);
  expect(await count(db, "SELECT COUNT(*) AS n FROM processed_events")).toBe(8);
  expect(await pruneKitTables(db, defaultRetention)).toEqual({ outbox: 0, request_log: 0, processed_events: 0 });
});

test("a service runtime prunes on its timer and counts what it deleted on /metrics", async () => {
  const config = baseConfig("identity", { OASIS_MESH_PUBLIC_KEYS: process.env.OASIS_MESH_PUBLIC_KEYS, OASIS_MESH_KEY_IDENTITY: process.env.OASIS_MESH_KEY_IDENTITY, OASIS_NAMESPACE: ns, OASIS_WORKER_ID: "11", OASIS_RETENTION_INTERVAL_MS: "100", OASIS_OUTBOX_RELAY: "off", OASIS_LOG_LEVEL: "silent" });
  const rt = await openRuntime(config, { mysql: true });
  try {
    const ids = await writeRows(rt.db, 20, 10);
    await rt.db.query(`UPDATE outbox SET sent_at = CURRENT_TIMESTAMP(3) - INTERVAL 25 HOUR WHERE id IN (${inList(ids.slice(0, 6))})`);
    const left = await until(() => count(rt.db, "SELECT COUNT(*) AS n FROM outbox"), (n) => n === 4, 10_000, 50);
    expect(left).toBe(4);
    // The counter moves after the DELETE returns, so on a loaded box it can trail the rows
    // by a moment: wait for it (condition), then it must say exactly the 6 rows deleted.
    const outboxLine = async () => (await rt.metrics.metrics()).split("\n").find((l) => l.startsWith("kit_retention_deleted_rows_total{") && l.includes('table="outbox"')) ?? "";
    const line = await until(outboxLine, (l) => !/ 0$/.test(l) && l !== "", 10_000, 50);
    expect(line).toMatch(/ 6$/);
    expect(await count(rt.db, "SELECT COUNT(*) AS n FROM outbox")).toBe(4);
  } finally {
    await rt.close();
  }
});
