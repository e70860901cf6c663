/**
 * OpenTelemetry traces (the OTel SDK, @opentelemetry/sdk-trace): a span for every edge
 * request, every mesh call (client and server side), every event written to the outbox
 * (producer) and every event a consumer handles (consumer), linked across processes by
 * the W3C `traceparent` the kit already carries in gRPC/HTTP headers and in NATS
 * headers (kit/outbox.ts, kit/consumer.ts). So one request's tree runs from the edge to
 * the fan-out consumer and the calls it makes.
 *
 * Off unless OASIS_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT is set (kit/config.ts):
 * then spans are batched and sent by OTLP/HTTP (JSON) to `<endpoint>/v1/traces`, every
 * OASIS_OTLP_DELAY_MS (default 5000, OTel's own default). Off, the API's no-op tracer
 * makes every span call a few hundred nanoseconds and no span is recorded; the kit's
 * request and trace ids still flow as before.
 */
import { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Span } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, TracerProvider, type SpanExporter } from "@opentelemetry/sdk-trace";
import { parseTraceparent } from "./call-context.ts";

export { SpanKind };
export type { Span };

let provider: TracerProvider | undefined;

/** What a process needs to trace: where to send spans and how often. */
export interface TracingConfig {
  /** OTLP/HTTP endpoint (without /v1/traces); empty: tracing off. */
  readonly otlpEndpoint: string;
  /** Batch export delay, ms. */
  readonly otlpDelayMs: number;
}

/**
 * Starts tracing for process `service` when an endpoint is configured (or an exporter
 * is given, tests); idempotent per process. Returns a flush-and-stop function.
 */
export function initTracing(service: string, cfg: TracingConfig, exporter?: SpanExporter): () => Promise<void> {
  if (provider || (!cfg.otlpEndpoint && !exporter)) return async () => {};
  const exp = exporter ?? new OTLPTraceExporter({ url: `${cfg.otlpEndpoint.replace(/\/$/, "")}/v1/traces` });
  provider = new TracerProvider({
    resource: resourceFromAttributes({ "service.name": service }),
    spanProcessors: [new BatchSpanProcessor({ exporter: exp, scheduledDelayMillis: cfg.otlpDelayMs })],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
  const p = provider;
  return async () => {
    await p.forceFlush().catch(() => {});
    await p.shutdown().catch(() => {});
  };
}

/** True when spans are recorded in this process. */
export function tracingOn(): boolean {
  return provider !== undefined;
}

const tracer = () => trace.getTracer("oasis");

/**
 * Starts a span. Its parent: the remote span of `traceparent` when given and valid,
 * else the active span of this async context (if any).
 */
export function startSpan(name: string, kind: SpanKind, traceparent?: string | null, attributes: Record<string, string | number> = {}): Span {
  const remote = traceparent ? parseTraceparent(traceparent) : undefined;
  const parent = remote
    ? trace.setSpanContext(ROOT_CONTEXT, { traceId: remote.traceId, spanId: remote.parentId, traceFlags: TraceFlags.SAMPLED, isRemote: true })
    : context.active();
  return tracer().startSpan(name, { kind, attributes }, parent);
}

/** The `traceparent` naming `span` as the parent, or undefined when it is not recorded. */
export function traceparentOf(span: Span): string | undefined {
  if (!span.isRecording()) return undefined;
  const c = span.spanContext();
  return `00-${c.traceId}-${c.spanId}-01`;
}

/** Runs `fn` with `span` active, so spans started inside are its children. */
export function withSpan<T>(span: Span, fn: () => T): T {
  return context.with(trace.setSpan(context.active(), span), fn);
}

/** Ends `span`, marked as an error when `err` is given. */
export function endSpan(span: Span, err?: unknown): void {
  if (err !== undefined) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message ?? String(err) });
  }
  span.end();
}
