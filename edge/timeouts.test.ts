/**
 * Deadlines through the edge, against a real upstream whose timing the test controls
 * (edge/testdata/edge-testbed.ts): `connect-timeout-ms` and `x-server-timeout` are
 * honoured and capped by OASIS_EDGE_MAX_TIMEOUT_MS; the upstream is told the time left;
 * retries share the one deadline; a client that goes away cancels the upstream call.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startEdgeTestbed, type EdgeTestbed } from "./testdata/edge-testbed.ts";

const maxTimeoutMs = 800;
let bed: EdgeTestbed;

beforeAll(async () => {
  bed = await startEdgeTestbed({ OASIS_EDGE_MAX_TIMEOUT_MS: String(maxTimeoutMs) });
});
afterAll(() => bed?.stop());

async function wait(body: Record<string, unknown>, headers: Record<string, string>, signal?: AbortSignal) {
  const started = performance.now();
  const res = await fetch(`${bed.edge}${bed.waitPath}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
    signal,
  });
  const json = (await res.json()) as { code?: string };
  return { status: res.status, code: json.code, elapsedMs: performance.now() - started };
}

const callsTagged = (tag: string) => bed.calls.filter((c) => c.tag === tag);

test("a fast call passes and the upstream is given the client's deadline", async () => {
  const res = await wait({ delayMs: 0, tag: "fast" }, { "connect-timeout-ms": "700" });
  expect(res.status).toBe(200);
  const [call] = callsTagged("fast");
  expect(call!.timeoutMs).toBeLessThanOrEqual(700);
  expect(call!.timeoutMs).toBeGreaterThan(400);
});

test("connect-timeout-ms: a slow upstream is deadline_exceeded (504) after that time", async () => {
  const res = await wait({ delayMs: 5_000, tag: "connect" }, { "connect-timeout-ms": "300" });
  expect(res.status).toBe(504);
  expect(res.code).toBe("deadline_exceeded");
  expect(res.elapsedMs).toBeGreaterThanOrEqual(295);
  expect(res.elapsedMs).toBeLessThan(300 + 1_500);
  const [call] = callsTagged("connect");
  expect(call!.timeoutMs).toBeLessThanOrEqual(300);
});

test("x-server-timeout (seconds) is honoured the same way", async () => {
  const res = await wait({ delayMs: 5_000, tag: "server" }, { "x-server-timeout": "0.3" });
  expect(res.status).toBe(504);
  expect(res.code).toBe("deadline_exceeded");
  expect(res.elapsedMs).toBeGreaterThanOrEqual(295);
  expect(res.elapsedMs).toBeLessThan(300 + 1_500);
  expect(callsTagged("server")[0]!.timeoutMs).toBeLessThanOrEqual(300);
});

test("a deadline above OASIS_EDGE_MAX_TIMEOUT_MS is capped to it", async () => {
  const res = await wait({ delayMs: 5_000, tag: "capped" }, { "connect-timeout-ms": "60000" });
  expect(res.status).toBe(504);
  expect(res.elapsedMs).toBeGreaterThanOrEqual(maxTimeoutMs - 5);
  expect(res.elapsedMs).toBeLessThan(maxTimeoutMs + 1_500);
  expect(callsTagged("capped")[0]!.timeoutMs).toBeLessThanOrEqual(maxTimeoutMs);
});

test("retries share one deadline: the second attempt gets only the time left", async () => {
  // Wait is side-effect free, so `unavailable` is retried; each attempt fails after 300 ms.
  // With a fresh 500 ms per attempt the edge would make three and answer 503 after ~950 ms.
  const res = await wait({ delayMs: 300, failUnavailable: true, tag: "retry" }, { "connect-timeout-ms": "500" });
  expect(res.status).toBe(504);
  expect(res.code).toBe("deadline_exceeded");
  const attempts = callsTagged("retry");
  expect(attempts.length).toBe(2);
  expect(attempts[0]!.timeoutMs).toBeLessThanOrEqual(500);
  expect(attempts[1]!.timeoutMs).toBeLessThanOrEqual(500 - 300);
  expect(res.elapsedMs).toBeLessThan(500 + 1_500);
});

test("a client that goes away cancels the upstream call", async () => {
  const abort = new AbortController();
  setTimeout(() => abort.abort(), 50);
  await wait({ delayMs: 5_000, tag: "abandoned" }, { "connect-timeout-ms": "5000" }, abort.signal).catch(() => undefined);
  let call = callsTagged("abandoned")[0];
  for (let i = 0; i < 100 && call?.abortedAtMs === undefined; i++) {
    await Bun.sleep(20);
    call = callsTagged("abandoned")[0];
  }
  expect(call?.abortedAtMs).toBeDefined();
  // Cancelled by the client leaving, not by its own deadline (capped to 800 ms).
  expect(call!.abortedAtMs! - call!.startedAtMs).toBeLessThan(call!.timeoutMs - 300);
});
