/**
 * Crash safety of identity's events: the identity process is killed with SIGKILL
 * between writing accounts and publishing their `account_created` events, and during a
 * burst of sign-ups; after restarts, a consumer has applied every account's event
 * exactly once, and JetStream delivered each one exactly once (not only after the
 * consumer's dedup).
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { AccountCreatedSchema } from "#gen/oasis/identity/v1/events_pb.ts";
import { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { connectBus, type Bus } from "#kit/bus.ts";
import { applyOnce, on, startConsumer, type RunningConsumer } from "#kit/consumer.ts";
import { createLogger } from "#kit/logger.ts";
import { connectPool, openDatabase, select, type Pool } from "#kit/mysql.ts";
import { Supervisor } from "#kit/supervisor.ts";
import { cleanupNamespace, testNamespace } from "#kit/testing/namespace.ts";
import { freePort } from "#kit/testing/ports.ts";
import { readEdges } from "../../demo/data.ts";

const ns = testNamespace();
const log = createLogger("crash-test", "silent");
const entry = new URL("./main.ts", import.meta.url).pathname;
const members = [...new Set(readEdges().flat())];
let port: number;
let supervisor: Supervisor;
let bus: Bus;
let sink: Pool;
let consumer: RunningConsumer;
let client: Client<typeof IdentityService>;
/** user id -> times the consumer applied its event (after dedup) */
const applied = new Map<bigint, number>();
let deliveries = 0;
/** user id -> JetStream's delivery count of each message the consumer got, before dedup */
const received = new Map<bigint, number[]>();

/** Identity's key-encryption key for this run: the same for every restart. */
const kek = randomBytes(32).toString("base64");

function env(relay: "on" | "off") {
  return { ...process.env, OASIS_IDENTITY_KEK: kek, OASIS_NAMESPACE: ns, OASIS_IDENTITY_PORT: String(port), OASIS_OUTBOX_RELAY: relay, OASIS_LOG_LEVEL: "warn", OASIS_IDENTITY_PASSWORD_MEMORY_KIB: "4096" };
}

async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error("timed out");
    await Bun.sleep(50);
  }
}

beforeAll(async () => {
  port = await freePort();
  supervisor = new Supervisor({ output: null, restart: false });
  bus = await connectBus({ url: process.env.OASIS_NATS_URL ?? "nats://127.0.0.1:4222", namespace: ns, name: "crash-test", log });
  // The consumer's own database, with the kit's processed_events table.
  sink = await openDatabase({ url: process.env.OASIS_MYSQL_URL ?? "mysql://root@127.0.0.1:3306", database: `oasis_${ns}_sink`, log });
  consumer = await startConsumer({
    bus,
    log,
    name: "crash-test-sink",
    handlers: [
      on(AccountCreatedSchema, async (event, meta) => {
        deliveries++;
        received.set(event.userId, [...(received.get(event.userId) ?? []), meta.deliveryCount]);
        await applyOnce(sink, "crash-test-sink", meta.eventId, async () => {
          applied.set(event.userId, (applied.get(event.userId) ?? 0) + 1);
        });
      }),
    ],
  });
  client = createClient(IdentityService, createConnectTransport({ baseUrl: `http://127.0.0.1:${port}`, httpVersion: "2", defaultTimeoutMs: 10_000 }));
});

afterAll(async () => {
  await supervisor?.stopAll();
  await consumer?.stop();
  await bus?.close();
  await sink?.end();
  await cleanupNamespace(ns);
});

test("kill -9 after the account is written but before its event is published: it arrives once after restart", async () => {
  await supervisor.start({ name: "identity", entry, port, env: env("off") });
  const created = await client.createAccount({ handle: `reed_${members[0]}`, email: `c${members[0]}@reed.example`, password: "correct horse battery", requestId: "crash-1" });
  const userId = created.account!.userId;
  await Bun.sleep(500);
  expect(applied.has(userId)).toBe(false);
  supervisor.kill9("identity");
  await supervisor.stop("identity");

  await supervisor.start({ name: "identity", entry, port, env: env("on") });
  await until(() => applied.get(userId) === 1);
  await Bun.sleep(500);
  expect(applied.get(userId)).toBe(1);
  // Exactly one message reached the consumer, on its first delivery: JetStream itself
  // holds the event once, not only the consumer's dedup table.
  expect(received.get(userId)).toEqual([1]);
});

test("kill -9 three times during a burst of sign-ups: every committed account's event is applied exactly once", async () => {
  const burst = members.slice(1, 121);
  let next = 0;
  let stopBurst = false;
  const workers = Array.from({ length: 8 }, async () => {
    while (!stopBurst && next < burst.length) {
      const n = burst[next++]!;
      // Retry each sign-up with the same request_id until it gets an answer, as an app would.
      for (;;) {
        try {
          await client.createAccount({ handle: `reed_${n}`, email: `b${n}@reed.example`, password: "correct horse battery", requestId: `burst-${n}` });
          break;
        } catch {
          await Bun.sleep(100);
        }
      }
    }
  });
  for (let i = 0; i < 3; i++) {
    await Bun.sleep(300 + Math.random() * 400);
    supervisor.kill9("identity");
    await supervisor.stop("identity");
    await supervisor.start({ name: "identity", entry, port, env: env("on") });
  }
  await Promise.all(workers);
  stopBurst = true;

  const identityDb = connectPool(process.env.OASIS_MYSQL_URL ?? "mysql://root@127.0.0.1:3306", `oasis_${ns}_identity`);
  const accounts = (await select<{ user_id: string }>(identityDb, "SELECT user_id FROM accounts")).map((r) => BigInt(r.user_id));
  await identityDb.end();
  expect(accounts.length).toBe(1 + burst.length);
  await until(() => accounts.every((id) => applied.has(id)), 30_000);
  await Bun.sleep(500);
  for (const id of accounts) expect(applied.get(id)).toBe(1);
  expect(applied.size).toBe(accounts.length);
  // Relays republishing after a kill are deduplicated by JetStream (Nats-Msg-Id = event id).
  for (const id of accounts) expect(received.get(id)).toEqual([1]);
  console.log(`crash burst: ${accounts.length} accounts, ${deliveries} deliveries, ${applied.size} applied once`);
});
