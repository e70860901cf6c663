/**
 * Prometheus metrics (prom-client), one registry per process so several services can
 * run in one test process without clashing. RPC metrics follow go-grpc-prometheus
 * (github.com/grpc-ecosystem/go-grpc-prometheus, server_metrics.go) so its standard
 * dashboards and alerts work: `grpc_server_started_total` and
 * `grpc_server_handled_total` by grpc_type/grpc_service/grpc_method (and grpc_code for
 * handled, spelled as Go's codes.Code.String(): `OK`, `NotFound`, ...), and the
 * `grpc_server_handling_seconds` histogram without the code.
 *
 * Event metrics (names per the Prometheus naming guide: base unit suffix, `_total` for
 * counters): `outbox_backlog_events` and `outbox_oldest_unsent_age_seconds` (kit/outbox.ts),
 * `events_consumer_pending_messages`, `events_consumer_ack_pending_messages`,
 * `events_consumer_lag_seconds`, `events_dead_letters` (read from JetStream at scrape),
 * `events_consumer_redeliveries_total` and `events_dead_lettered_total` (counted as they happen).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";

export interface RpcMetrics {
  readonly registry: Registry;
  readonly interceptor: Interceptor;
}

/**
 * Ms between the event loop delay monitor's samples when the caller gives none
 * (OASIS_METRICS_EVENT_LOOP_MS, kit/config.ts): prom-client's default of 10 ms costs ~5 ms
 * of CPU per second in an idle Bun process (a timer's wake-up each time), 100 ms a tenth of
 * that. The loop is always waiting on the monitor's next sample, so a stall longer than the
 * interval still shows as lag; shorter ones may fall between samples.
 */
export const defaultEventLoopMs = 100;

/**
 * A process registry with the service label and Node/Bun process metrics, the event loop
 * delay sampled every `eventLoopMs` (default defaultEventLoopMs).
 */
export function createRegistry(service: string, eventLoopMs = defaultEventLoopMs): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: eventLoopMs });
  return registry;
}

/** A code as go-grpc-prometheus labels it (Go's codes.Code.String()): `OK`, `NotFound`, ... */
export function codeName(code: Code | undefined): string {
  return code === undefined ? "OK" : Code[code]!;
}

/** go-grpc-prometheus's grpc_type of a method kind. */
export function grpcType(kind: "unary" | "server_streaming" | "client_streaming" | "bidi_streaming"): string {
  return kind === "unary" ? "unary" : kind === "server_streaming" ? "server_stream" : kind === "client_streaming" ? "client_stream" : "bidi_stream";
}

/**
 * Counts and times every RPC by service, method and code. Latency buckets in seconds,
 * from 0.5 ms to 10 s: most mesh calls are sub-millisecond to tens of milliseconds.
 */
export function createRpcMetrics(service: string, registry: Registry = createRegistry(service)): RpcMetrics {
  const started = new Counter({
    name: "grpc_server_started_total",
    help: "RPCs started on the server.",
    labelNames: ["grpc_type", "grpc_service", "grpc_method"],
    registers: [registry],
  });
  const handled = new Counter({
    name: "grpc_server_handled_total",
    help: "RPCs completed on the server, regardless of success or failure.",
    labelNames: ["grpc_type", "grpc_service", "grpc_method", "grpc_code"],
    registers: [registry],
  });
  const latency = new Histogram({
    name: "grpc_server_handling_seconds",
    help: "Response latency of RPCs handled by the server, seconds (for streams: until the handler returned the stream).",
    labelNames: ["grpc_type", "grpc_service", "grpc_method"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });
  const interceptor: Interceptor = (next) => async (req) => {
    const start = performance.now();
    const labels = { grpc_type: grpcType(req.method.methodKind), grpc_service: req.service.typeName, grpc_method: req.method.name };
    started.inc(labels);
    let code = "OK";
    try {
      return await next(req);
    } catch (err) {
      code = codeName(ConnectError.from(err).code);
      throw err;
    } finally {
      handled.inc({ ...labels, grpc_code: code });
      latency.observe(labels, (performance.now() - start) / 1000);
    }
  };
  return { registry, interceptor };
}

/** Counters a consumer keeps as it handles messages (kit/consumer.ts). */
export interface ConsumerCounters {
  /** A message delivered again (a handler failed, or its ack was lost). */
  redelivered(consumer: string): void;
  /** A message parked on the DLQ. */
  deadLettered(consumer: string): void;
}

export function consumerCounters(registry: Registry): ConsumerCounters {
  const redeliveries = new Counter({
    name: "events_consumer_redeliveries_total",
    help: "Event deliveries after the first (a handler failed or its ack was lost), by consumer.",
    labelNames: ["consumer"],
    registers: [registry],
  });
  const deadLettered = new Counter({
    name: "events_dead_lettered_total",
    help: "Events parked on the DLQ (handler failed on its last attempt, or undecodable), by consumer.",
    labelNames: ["consumer"],
    registers: [registry],
  });
  return { redelivered: (c) => redeliveries.inc({ consumer: c }), deadLettered: (c) => deadLettered.inc({ consumer: c }) };
}

/** What the consumer gauges read at scrape time, per consumer. */
export interface ConsumerGaugeSource {
  readonly pending: number;
  readonly ackPending: number;
  readonly lagSeconds: number;
  readonly deadLetters: number;
}

/**
 * Consumer lag gauges, read from JetStream when Prometheus scrapes (one consumer info
 * and one stream lookup per consumer; a failed read leaves the consumer out of that
 * scrape rather than reporting a made-up 0).
 */
export function consumerGauges(registry: Registry, read: () => Promise<Map<string, ConsumerGaugeSource>>): void {
  let last: Promise<Map<string, ConsumerGaugeSource>> | undefined;
  // One read per scrape, shared by the four gauges.
  const current = () => (last ??= read().finally(() => setTimeout(() => (last = undefined), 0)));
  const gauge = (name: string, help: string, pick: (s: ConsumerGaugeSource) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ["consumer"],
      registers: [registry],
      async collect() {
        this.reset();
        for (const [consumer, s] of await current().catch(() => new Map<string, ConsumerGaugeSource>())) this.set({ consumer }, pick(s));
      },
    });
  gauge("events_consumer_pending_messages", "Messages of the consumer's stream not yet delivered to it (its lag in messages).", (s) => s.pending);
  gauge("events_consumer_ack_pending_messages", "Messages delivered to the consumer and not yet acknowledged.", (s) => s.ackPending);
  gauge("events_consumer_lag_seconds", "Age of the oldest message not yet delivered to the consumer, seconds (0 when none).", (s) => s.lagSeconds);
  gauge("events_dead_letters", "The consumer's dead letters in the DLQ stream now.", (s) => s.deadLetters);
}
