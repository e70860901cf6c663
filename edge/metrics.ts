/**
 * Edge metrics (prom-client): requests by route, method and status, and latency. The
 * route label is the RPC path or REST template, never the raw URL, so label
 * cardinality stays bounded.
 */
import { Counter, Histogram, type Registry } from "prom-client";
import { createRegistry, defaultEventLoopMs } from "#kit/metrics.ts";

export interface EdgeMetrics {
  readonly registry: Registry;
  observe(route: string, method: string, status: number, seconds: number): void;
}

/** The edge's registry; `eventLoopMs` as kit/metrics.ts createRegistry takes it (OASIS_METRICS_EVENT_LOOP_MS). */
export function createEdgeMetrics(eventLoopMs = defaultEventLoopMs): EdgeMetrics {
  const registry = createRegistry("edge", eventLoopMs);
  const requests = new Counter({
    name: "edge_http_requests_total",
    help: "HTTP requests served by the edge, by route, method and status.",
    labelNames: ["route", "method", "status"],
    registers: [registry],
  });
  const latency = new Histogram({
    name: "edge_http_request_duration_seconds",
    help: "Edge request latency, seconds, including the upstream call.",
    labelNames: ["route", "method", "status"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });
  // The label children of each route, method and status seen (bounded: routes are
  // templates), so a request costs no label hashing.
  const children = new Map<string, { count: { inc(): void }; time: { observe(v: number): void } }>();
  return {
    registry,
    observe(route, method, status, seconds) {
      const key = `${route}\u0000${method}\u0000${status}`;
      let c = children.get(key);
      if (!c) {
        const labels = { route, method, status: String(status) };
        c = { count: requests.labels(labels), time: latency.labels(labels) };
        children.set(key, c);
      }
      c.count.inc();
      c.time.observe(seconds);
    },
  };
}
