/**
 * kit/metrics.ts's process registry: the event loop delay is still measured when it is
 * sampled every 100 ms (OASIS_METRICS_EVENT_LOOP_MS, design note 58) instead of
 * prom-client's 10: a loop blocked for 400 ms shows as lag of at least 300 ms, and the
 * setting is read from the environment with its bounds.
 */
import { expect, test } from "bun:test";
import { sharedConfig } from "./config.ts";
import { createRegistry, defaultEventLoopMs } from "./metrics.ts";
import { untilTrue } from "./testing/until.ts";

/** nodejs_eventloop_lag_max_seconds as a scrape reads it (prom-client sets the lag gauges together at collect). */
const lagMax = async (registry: ReturnType<typeof createRegistry>) => {
  const all = await registry.getMetricsAsJSON();
  return all.find((m) => m.name === "nodejs_eventloop_lag_max_seconds")!.values[0]!.value;
};

test("a loop blocked for 400 ms shows as lag with samples 100 ms apart", async () => {
  expect(defaultEventLoopMs).toBe(100);
  const registry = createRegistry("metricstest");
  await Bun.sleep(250);
  const until = performance.now() + 400;
  while (performance.now() < until) {
    // the loop is blocked
  }
  // The monitor records the stall at its next sample; each scrape resets the histogram,
  // but a recorded stall stays until the scrape that reads it.
  await untilTrue(async () => (await lagMax(registry)) >= 0.3, 5_000, 50, "lag of at least 0.3 s");
});

test("OASIS_METRICS_EVENT_LOOP_MS sets the interval, 100 by default, 0 refused", () => {
  expect(sharedConfig({}).metricsEventLoopMs).toBe(100);
  expect(sharedConfig({ OASIS_METRICS_EVENT_LOOP_MS: "10" }).metricsEventLoopMs).toBe(10);
  expect(() => sharedConfig({ OASIS_METRICS_EVENT_LOOP_MS: "0" })).toThrow();
});
