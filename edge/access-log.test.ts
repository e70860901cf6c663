/**
 * The access log's lines and its sampling: every request logged up to the rate in a
 * second, then a share of them with a weight that keeps sums right, 5xx always.
 */
import { expect, test } from "bun:test";
import { Writable } from "node:stream";
import { createLogger } from "#kit/logger.ts";
import { createAccessLog, type AccessEntry } from "./access-log.ts";

function capture() {
  const lines: any[] = [];
  const dest = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split("\n").filter(Boolean)) lines.push(JSON.parse(l));
      done();
    },
  });
  return { lines, log: createLogger("edge", "info", dest as never) };
}

const entry = (status = 200): AccessEntry => ({
  route: "GET /v1/users/{user_id}/feed",
  method: "GET",
  status,
  durationMs: 12.3456,
  user: 118840942673145856n,
  requestId: "req-1",
  traceId: "0af7651916cd43dd8448eb211c80319c",
  upstream: "feed",
});

test("one structured line per request with the route template, status, duration, user, ids and upstream", () => {
  const { lines, log } = capture();
  expect(createAccessLog(log, { ratePerSecond: 10, sampleShare: 0 }).write(entry())).toBe(true);
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatchObject({
    msg: "request",
    service: "edge",
    route: "GET /v1/users/{user_id}/feed",
    http_method: "GET",
    status: 200,
    duration_ms: 12.35,
    user_id: "118840942673145856",
    request_id: "req-1",
    trace_id: "0af7651916cd43dd8448eb211c80319c",
    upstream: "feed",
    sample_weight: 1,
  });
});

test("above the rate a share is logged, weighted; server errors always; a new second starts over", () => {
  const { lines, log } = capture();
  let now = 5_000;
  let draws = 0;
  // Every fourth draw falls under the 25% share.
  const access = createAccessLog(log, { ratePerSecond: 3, sampleShare: 0.25 }, () => now, () => (draws++ % 4 === 0 ? 0.1 : 0.9));
  const logged = Array.from({ length: 11 }, () => access.write(entry())).filter(Boolean).length;
  expect(logged).toBe(3 + 2); // 3 in full, then 2 of the 8 beyond
  expect(lines.slice(3).every((l) => l.sample_weight === 4)).toBe(true);
  expect(access.write(entry(503))).toBe(true);
  expect(lines.at(-1).sample_weight).toBe(1);
  now += 1_000;
  expect(access.write(entry())).toBe(true);
  expect(lines.at(-1).sample_weight).toBe(1);
});
