/**
 * The stores' spans (kit/mysql.ts, kit/redis.ts) against real MariaDB and Redis, with
 * an in-memory exporter given to initTracing: before tracing starts a Redis batch is
 * left untouched; once on, a SELECT, a transaction, a batched transaction's batches, a
 * pipeline and a MULTI each yield one CLIENT span under the active span, with
 * db.system, db.operation and the statement count, and no SQL parameter anywhere.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace";
import { createLogger } from "./logger.ts";
import { dropDatabase, openDatabase, select, withBatchedTransaction, withTransaction, type Pool } from "./mysql.ts";
import { createRedis, deleteKeysWithPrefix, type Redis } from "./redis.ts";
import { testNamespace } from "./testing/namespace.ts";
import { endSpan, initTracing, SpanKind, startSpan, tracingOn, withSpan } from "./tracing.ts";

const ns = testNamespace();
const database = `oasis_${ns}_spans`;
const log = createLogger("kit-test", "silent");
const url = process.env.OASIS_MYSQL_URL ?? "mysql://root@127.0.0.1:3306";
const redisUrl = process.env.OASIS_REDIS_URL ?? "redis://127.0.0.1:6379";
const exported: ReadableSpan[] = [];
const exporter: SpanExporter = {
  export(spans, done) {
    exported.push(...spans);
    done({ code: 0 });
  },
  async shutdown() {},
};
let db: Pool;
let redis: Redis;

beforeAll(async () => {
  db = await openDatabase({ url, database, log, multipleStatements: true });
  redis = createRedis({ url: redisUrl, keyPrefix: `${ns}:`, log });
});
afterAll(async () => {
  redis?.disconnect();
  await db?.end();
  await dropDatabase(url, database);
  await deleteKeysWithPrefix(redisUrl, `${ns}:`);
});

test("SQL queries, transactions and batches and Redis pipelines and MULTIs are spanned under the active span, only while tracing is on", async () => {
  expect(tracingOn()).toBe(false);
  // Off: the batch is ioredis's own, its exec not wrapped.
  const off = redis.pipeline().get("k");
  expect(Object.hasOwn(off, "exec")).toBe(false);
  await off.exec();

  const stop = initTracing("kit-test", { otlpEndpoint: "", otlpDelayMs: 10 }, exporter);
  expect(tracingOn()).toBe(true);
  const parent = startSpan("test request", SpanKind.SERVER);
  await withSpan(parent, async () => {
    await select(db, "SELECT ? AS secret", ["p4ssw0rd-parameter"]);
    await withTransaction(db, async (tx) => {
      await tx.query("SELECT 1");
      await tx.query("SELECT 2");
    });
    await withBatchedTransaction(db, async (tx) => {
      await tx.run([{ sql: "SELECT 1" }, { sql: "SELECT ?", params: ["p4ssw0rd-parameter"] }]);
      await tx.run([{ sql: "SELECT 3" }], { commit: true });
    });
    await redis.pipeline().set("a", "1").set("b", "2").get("a").exec();
    await redis.multi().incr("c").incr("c").exec();
  });
  endSpan(parent);
  await stop();

  const parentId = parent.spanContext().spanId;
  const stores = exported.filter((s) => s.name !== "test request");
  const shape = stores.map((s) => ({
    name: s.name,
    kind: s.kind,
    parent: s.parentSpanContext?.spanId === parentId,
    system: s.attributes["db.system"],
    operation: s.attributes["db.operation"],
    statements: s.attributes["db.statement_count"],
  }));
  const row = (name: string, system: string, operation: string, statements: number) => ({ name, kind: SpanKind.CLIENT, parent: true, system, operation, statements });
  expect(shape).toEqual([
    row("mysql SELECT", "mysql", "SELECT", 1),
    row("mysql TRANSACTION", "mysql", "TRANSACTION", 2),
    // START TRANSACTION + 2 statements; then 1 statement + COMMIT.
    row("mysql BATCH", "mysql", "BATCH", 3),
    row("mysql BATCH", "mysql", "BATCH", 2),
    row("redis PIPELINE", "redis", "PIPELINE", 3),
    row("redis MULTI", "redis", "MULTI", 2),
  ]);
  expect(JSON.stringify(stores.map((s) => s.attributes))).not.toContain("p4ssw0rd");
});
