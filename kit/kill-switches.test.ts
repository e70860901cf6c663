/**
 * Kill switches against real NATS JetStream KV: a change made through one process's
 * handle reaches another's watcher (the propagation time is printed, and must stay
 * under the 1 s the switches promise), the state follows set and clear, records keep
 * who/when/why, history lists every change newest first, a process opening later sees
 * what is on, and targets are checked per kind.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { connectBus, type Bus } from "./bus.ts";
import { methodDisabled, noSwitches, openKillSwitches, stateOf, switchKey, type KillSwitchRecord, type KillSwitches } from "./kill-switches.ts";
import { createLogger } from "./logger.ts";
import { cleanupNamespace, testNamespace } from "./testing/namespace.ts";

const ns = testNamespace();
const log = createLogger("kit-test", "silent");
let busA: Bus;
let busB: Bus;
let a: KillSwitches;
let b: KillSwitches;

beforeAll(async () => {
  const url = process.env.OASIS_NATS_URL ?? "nats://127.0.0.1:4222";
  busA = await connectBus({ url, namespace: ns, name: "kit-test-a", log });
  busB = await connectBus({ url, namespace: ns, name: "kit-test-b", log });
  a = await openKillSwitches(busA, log);
  b = await openKillSwitches(busB, log);
});

afterAll(async () => {
  await a?.close();
  await b?.close();
  await busA?.close();
  await busB?.close();
  await cleanupNamespace(ns);
});

const rec = (r: Partial<KillSwitchRecord> & Pick<KillSwitchRecord, "kind">): KillSwitchRecord => ({
  target: "",
  on: true,
  share: 1,
  actor: "operator:test",
  reason: "kit test",
  atMs: Date.now(),
  ...r,
});

/** Waits (polling, 2 s at most) until `cond` holds on `s`; returns the ms it took. */
async function applied(s: KillSwitches, cond: (k: KillSwitches) => boolean): Promise<number> {
  const t0 = performance.now();
  while (!cond(s)) {
    if (performance.now() - t0 > 2_000) throw new Error("switch not applied within 2 s");
    await Bun.sleep(2);
  }
  return performance.now() - t0;
}

test("a switch set through one process applies in another within a second, and clears", async () => {
  expect(b.state()).toBe(noSwitches);
  await a.put(rec({ kind: "read_only", reason: "maintenance window" }));
  const ms = await applied(b, (k) => k.state().readOnly);
  console.log(`kill switch propagation: ${ms.toFixed(1)} ms`);
  expect(ms).toBeLessThan(1_000);
  const r = b.records().get("read_only")!;
  expect(r.actor).toBe("operator:test");
  expect(r.reason).toBe("maintenance window");
  await a.put(rec({ kind: "read_only", on: false, share: 0, reason: "done" }));
  await applied(b, (k) => !k.state().readOnly);
});

test("every kind lands in the state; a later process sees what is on", async () => {
  await a.put(rec({ kind: "disable_method", target: "oasis.post.v1.PostService/CreatePost" }));
  await a.put(rec({ kind: "disable_method", target: "oasis.chat.v1.ChatService" }));
  await a.put(rec({ kind: "shed", target: "read", share: 0.25 }));
  await a.put(rec({ kind: "freeze_user", target: "118840942673145856" }));
  await a.put(rec({ kind: "fanout_pull" }));
  await a.put(rec({ kind: "disable_uploads" }));
  await applied(b, (k) => k.state().disableUploads && k.state().frozenUsers.size === 1);
  const late = await openKillSwitches(busB, log);
  try {
    for (const s of [b.state(), late.state()]) {
      expect(methodDisabled(s, "oasis.post.v1.PostService/CreatePost")).toBe(true);
      expect(methodDisabled(s, "oasis.post.v1.PostService/GetPost")).toBe(false);
      expect(methodDisabled(s, "oasis.chat.v1.ChatService/SendMessage")).toBe(true);
      expect(s.shed.get("read")).toBe(0.25);
      expect(s.frozenUsers.has("118840942673145856")).toBe(true);
      expect(s.fanoutPullOnRead).toBe(true);
      expect(s.readOnly).toBe(false);
    }
  } finally {
    await late.close();
  }
  const history = await a.history(100);
  expect(history.length).toBe(8);
  expect(history[0]!.record.kind).toBe("disable_uploads");
  expect(history.map((h) => h.revision)).toEqual([...history.map((h) => h.revision)].sort((x, y) => y - x));
  expect(history.some((h) => h.record.kind === "read_only" && !h.record.on && h.record.reason === "done")).toBe(true);
});

test("targets are checked per kind", () => {
  expect(switchKey("read_only", "")).toEqual({ key: "read_only" });
  expect("error" in switchKey("read_only", "x")).toBe(true);
  expect("error" in switchKey("disable_method", "not a method")).toBe(true);
  expect("error" in switchKey("disable_method", "oasis.post.v1.PostService/")).toBe(true);
  expect("error" in switchKey("shed", "everything")).toBe(true);
  expect("error" in switchKey("freeze_user", "0")).toBe(true);
  expect(switchKey("freeze_user", "42")).toEqual({ key: "freeze.42" });
  expect(stateOf([rec({ kind: "shed", target: "write", share: 7 })]).shed.get("write")).toBe(1);
});
