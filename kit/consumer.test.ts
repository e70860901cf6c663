/**
 * kit/consumer.ts against real NATS JetStream: a consumer with `concurrency` and an
 * `orderKey` handles the events of one key one after another in stream order, and events
 * of other keys alongside them. The sample event type is identity's AccountCreated (the
 * kit knows no domain): the key is its handle's first letter.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { AccountCreatedSchema } from "#gen/oasis/identity/v1/events_pb.ts";
import { connectBus, domainStreamConfig, ensureStream, eventSubject, natsHeaders, type Bus } from "./bus.ts";
import { on, startConsumer, type RunningConsumer } from "./consumer.ts";
import { createLogger } from "./logger.ts";
import { cleanupNamespace, testNamespace } from "./testing/namespace.ts";
import { untilTrue } from "./testing/until.ts";

const ns = testNamespace();
const log = createLogger("kit-test", "silent");
let bus: Bus;
const consumers: RunningConsumer[] = [];

beforeAll(async () => {
  bus = await connectBus({ url: process.env.OASIS_NATS_URL ?? "nats://127.0.0.1:4222", namespace: ns, name: "kit-consumer-test", log });
  await ensureStream(bus.jsm, domainStreamConfig(ns, "identity"), log);
});

afterAll(async () => {
  for (const c of consumers) await c.stop();
  await bus?.close();
  await cleanupNamespace(ns);
});

/** Publishes AccountCreated events with these handles, in this order, each with its own event id. */
async function publish(handles: readonly string[], firstId: number): Promise<void> {
  for (const [i, handle] of handles.entries()) {
    const h = natsHeaders();
    h.set("Oasis-Event-Type", AccountCreatedSchema.typeName);
    await bus.js.publish(eventSubject(ns, AccountCreatedSchema), toBinary(AccountCreatedSchema, create(AccountCreatedSchema, { userId: BigInt(firstId + i), handle })), { msgID: String(firstId + i), headers: h });
  }
}

test("orderKey: one key's events one after another in stream order, other keys alongside", async () => {
  const seen: string[] = [];
  // a1 waits until b1 (another key, published after a2) has run: b1 must not wait for a1,
  // and a2 (a1's key) must not start before a1 is done.
  let releaseA1!: () => void;
  const a1Released = new Promise<void>((r) => (releaseA1 = r));
  consumers.push(
    await startConsumer({
      bus,
      log,
      name: "kit-test-order-key",
      deliver: "new",
      concurrency: 8,
      orderKey: (_subject, data) => fromBinary(AccountCreatedSchema, data).handle[0],
      handlers: [
        on(AccountCreatedSchema, async (e) => {
          seen.push(`start ${e.handle}`);
          if (e.handle === "a1") await a1Released;
          if (e.handle === "b1") releaseA1();
          seen.push(`end ${e.handle}`);
        }),
      ],
    }),
  );
  await publish(["a1", "a2", "b1", "a3"], 1_000);
  await untilTrue(() => seen.length === 8, 10_000, 20, "four events handled");
  const at = (entry: string) => seen.indexOf(entry);
  // b1 ran while a1 waited; a2 and a3 each after the one before them, in stream order.
  expect(at("start b1")).toBeLessThan(at("end a1"));
  expect(at("end a1")).toBeLessThan(at("start a2"));
  expect(at("end a2")).toBeLessThan(at("start a3"));
});
