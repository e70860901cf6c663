/**
 * Crash safety of identity's events: the identity process is killed with SIGKILL
 * between writing accounts and publishing their `account_created` events, and during a
 * burst of sign-ups at moments when committed events wait in the outbox (read from
 * MariaDB: at least one kill must land there); after restarts, a consumer has applied
 * every account's event exactly once, and JetStream delivered each one exactly once (not
 * only after the consumer's dedup).
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
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
import { until as pollFor } from "#kit/testing/until.ts";
import { readEdges } from "../../demo/data.ts";
import { untilTrue } from "#kit/testing/until.ts";

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

/** Identity's database (the outbox lives there); opened once identity has migrated it. */
let identityDb: Pool | undefined;
async function unsentEvents(): Promise<number> {
  identityDb ??= connectPool(process.env.OASIS_MYSQL_URL ?? "mysql://root@127.0.0.1:3306", `oasis_${ns}_identity`);
  const [row] = await select<{ n: number | string }>(identityDb, "SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL");
  return Number(row!.n);
}

/**
 * What a client sees while identity is down or dying, as connect-node reports it: the
 * connection refused (unavailable, ECONNREFUSED), reset mid-call (aborted, ECONNRESET),
 * or the HTTP/2 stream closed under it (canceled, "stream closed with error code
 * CANCEL"). Anything else, or these for longer than the retry budget, is a real failure
 * and ends the test.
 */
const transient = new Set([Code.Unavailable, Code.Aborted, Code.Canceled]);

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
  await identityDb?.end();
  await cleanupNamespace(ns);
});

test("kill -9 after the account is written but before its event is published: it arrives once after restart", async () => {
  await supervisor.start({ name: "identity", entry, port, env: env("off") });
  const created = await client.createAccount({ handle: `reed_${members[0]}`, email: `c${members[0]}@reed.example`, password: "correct horse battery", requestId: "crash-1" });
  const userId = created.account!.userId;
  // With the relay off, the committed event is in the outbox, unsent, when the kill lands.
  expect(await unsentEvents()).toBe(1);
  supervisor.kill9("identity");
  await supervisor.stop("identity");
  expect(applied.has(userId)).toBe(false);

  await supervisor.start({ name: "identity", entry, port, env: env("on") });
  await untilTrue(() => applied.get(userId) === 1, 20_000);
  // Nothing is left to publish (so no later copy can come), and the one copy was applied once.
  await untilTrue(async () => (await unsentEvents()) === 0, 20_000);
  expect(await unsentEvents()).toBe(0);
  expect(applied.get(userId)).toBe(1);
  // Exactly one message reached the consumer, on its first delivery: JetStream itself
  // holds the event once, not only the consumer's dedup table.
  expect(received.get(userId)).toEqual([1]);
});

test("kill -9 during a burst of sign-ups, in the commit-to-publish window: every committed account's event is applied exactly once", async () => {
  const burst = members.slice(1, 121);
  let next = 0;
  const errors = new Map<string, number>();
  const retryForMs = 60_000;
  const workers = Array.from({ length: 8 }, async () => {
    while (next < burst.length) {
      const n = burst[next++]!;
      // Retry a sign-up with the same request_id while identity is down, as an app would:
      // only on transient errors, and for at most retryForMs (a restart takes 1-10 s on
      // a loaded machine).
      const giveUpAt = Date.now() + retryForMs;
      for (let attempt = 1; ; attempt++) {
        try {
          await client.createAccount({ handle: `reed_${n}`, email: `b${n}@reed.example`, password: "correct horse battery", requestId: `burst-${n}` });
          break;
        } catch (err) {
          const e = ConnectError.from(err);
          if (!transient.has(e.code) || Date.now() > giveUpAt) throw new Error(`sign-up of reed_${n}, attempt ${attempt}: ${e.message}`);
          errors.set(Code[e.code], (errors.get(Code[e.code]) ?? 0) + 1);
          await Bun.sleep(100); // back-off between retries, not a wait for a condition
        }
      }
    }
  });
  const failed = Promise.all(workers).then(
    () => undefined,
    (err: Error) => err,
  );
  // Kill when committed events wait for the relay (polled in MariaDB), and count, with
  // the process dead (it publishes nothing more), how many were still unsent: a kill with
  // any landed in the window. At least 3 kills; more (up to 25) until one lands, while
  // the burst lasts; the burst then runs to its end.
  const unsentAtKill: number[] = [];
  while (unsentAtKill.length < 3 || (!unsentAtKill.some((n) => n > 0) && unsentAtKill.length < 25)) {
    if (next >= burst.length) break;
    const t0 = performance.now();
    let polls = 0;
    const seen = await pollFor(async () => (polls++, await unsentEvents()), (n) => n > 0 || next >= burst.length, 30_000, 2);
    console.log(`kill ${unsentAtKill.length + 1}: saw ${seen} unsent after ${polls} polls, ${(performance.now() - t0).toFixed(0)} ms; ${next} sign-ups started`);
    supervisor.kill9("identity");
    await supervisor.stop("identity");
    unsentAtKill.push(await unsentEvents());
    await supervisor.start({ name: "identity", entry, port, env: env("on") });
  }
  expect(await failed).toBeUndefined();
  console.log(`crash burst: ${unsentAtKill.length} kills, unsent events at each: [${unsentAtKill.join(", ")}]; retried errors: ${JSON.stringify(Object.fromEntries(errors))}`);
  expect(unsentAtKill.filter((n) => n > 0).length).toBeGreaterThan(0);

  const accounts = (await select<{ user_id: string }>(identityDb!, "SELECT user_id FROM accounts")).map((r) => BigInt(r.user_id));
  expect(accounts.length).toBe(1 + burst.length);
  await untilTrue(() => accounts.every((id) => applied.has(id)), 30_000);
  await untilTrue(async () => (await unsentEvents()) === 0, 20_000);
  expect(await unsentEvents()).toBe(0);
  for (const id of accounts) expect(applied.get(id)).toBe(1);
  expect(applied.size).toBe(accounts.length);
  // Relays republishing after a kill are deduplicated by JetStream (Nats-Msg-Id = event id).
  for (const id of accounts) expect(received.get(id)).toEqual([1]);
  console.log(`crash burst: ${accounts.length} accounts, ${deliveries} deliveries, ${applied.size} applied once`);
});
