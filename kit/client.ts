/**
 * Clients for calls inside the mesh: Connect protocol, binary Protobuf, HTTP/2 cleartext
 * with keepalive pings, a deadline on every call, the caller/request id/trace forwarded,
 * replicas balanced by least pending calls with passive ejection, and retries only where
 * repeating a call is harmless.
 *
 * Retry policy (gRPC's A6 proposal in spirit, kept small): a call is retried on
 * `unavailable` at most twice, on another replica when there is one, with jittered
 * backoff, and only if the method is marked `idempotency_level = NO_SIDE_EFFECTS` or
 * the request carries a non-empty `request_id` (the server deduplicates those).
 *
 * Ejection: a replica that fails with `unavailable` is skipped for `ejectMs` (doubling on
 * repeated failures, capped at 30 s) and re-admitted afterwards; if every replica is
 * ejected the least recently ejected one is tried anyway (fail open).
 */
import type { DescMessage, DescMethodStreaming, DescMethodUnary, DescService, MessageInitShape } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel as Idempotency } from "@bufbuild/protobuf/wkt";
import {
  Code,
  ConnectError,
  createClient,
  type Client,
  type ContextValues,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import { compressionGzip, createConnectTransport } from "@connectrpc/connect-node";
import { createConnectTransport as createFetchTransport } from "@connectrpc/connect-web";
import { callerHeader, signCaller } from "./auth.ts";
import { currentCall, formatTraceparent, newRequestId, newSpanId, newTraceId } from "./call-context.ts";

export interface MeshClientOptions {
  readonly meshSecret: string;
  /** Deadline of a call that sets none, ms. */
  readonly timeoutMs?: number;
  /**
   * "2" (default): HTTP/2 h2c via node:http2, one multiplexed connection per replica.
   * "1.1": HTTP/1.1 keep-alive via Bun's fetch; measured cheaper per call on Bun (see
   * bench/), kept as an option until the default is revisited.
   */
  readonly httpVersion?: "2" | "1.1";
  /** How long an `unavailable` replica is skipped, ms (doubles per repeat, max 30 s). */
  readonly ejectMs?: number;
  /** Extra interceptors, e.g. the edge's own header mapping. */
  readonly interceptors?: readonly Interceptor[];
}

export const defaultTimeoutMs = 5_000;

/**
 * Forwards the current call's context: a freshly signed caller assertion for the same
 * user (unless the call already carries one, as edge calls do), the request id, and a
 * child `traceparent`.
 */
export function propagationInterceptor(meshSecret: string): Interceptor {
  return (next) => async (req) => {
    const call = currentCall();
    if (!req.header.has(callerHeader)) req.header.set(callerHeader, signCaller(meshSecret, call?.caller.userId ?? null));
    if (!req.header.has("x-request-id")) req.header.set("x-request-id", call?.requestId ?? newRequestId());
    if (!req.header.has("traceparent")) req.header.set("traceparent", formatTraceparent(call?.traceId ?? newTraceId(), newSpanId()));
    return next(req);
  };
}

/** True when repeating the call cannot duplicate an effect. */
export function isRetryable(method: { idempotency: Idempotency }, input: unknown): boolean {
  if (method.idempotency === Idempotency.NO_SIDE_EFFECTS) return true;
  const requestId = (input as { requestId?: unknown } | null)?.requestId;
  return typeof requestId === "string" && requestId.length > 0;
}

interface Replica {
  readonly url: string;
  readonly transport: Transport;
  pending: number;
  ejectedUntil: number;
  failures: number;
}

/** Live view of the replicas, for /readyz and metrics. */
export interface ReplicaState {
  readonly url: string;
  readonly pending: number;
  readonly ejected: boolean;
}

export interface BalancedTransport extends Transport {
  replicas(): ReplicaState[];
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}

/** A transport over one or more replicas of the same service. */
export function createMeshTransport(urls: readonly string[], opts: MeshClientOptions): BalancedTransport {
  if (urls.length === 0) throw new Error("createMeshTransport needs at least one URL");
  const timeoutMs = opts.timeoutMs ?? defaultTimeoutMs;
  const baseEjectMs = opts.ejectMs ?? 2_000;
  const interceptors = [propagationInterceptor(opts.meshSecret), ...(opts.interceptors ?? [])];
  const replicas: Replica[] = urls.map((url) => ({
    url,
    pending: 0,
    ejectedUntil: 0,
    failures: 0,
    transport:
      opts.httpVersion === "1.1"
        ? createFetchTransport({ baseUrl: url, useBinaryFormat: true, interceptors, defaultTimeoutMs: timeoutMs })
        : createConnectTransport({
            baseUrl: url,
            httpVersion: "2",
            useBinaryFormat: true,
            interceptors,
            defaultTimeoutMs: timeoutMs,
            acceptCompression: [compressionGzip],
            // Bun's http2 client can hang on a session left idle: ping it, and drop it
            // before the server's 5-minute idle timeout does.
            pingIntervalMs: 30_000,
            pingTimeoutMs: 10_000,
            pingIdleConnection: true,
            idleConnectionTimeoutMs: 240_000,
          }),
  }));
  let cursor = 0;

  function pick(exclude: Set<Replica>): Replica {
    const now = Date.now();
    let best: Replica | undefined;
    for (let i = 0; i < replicas.length; i++) {
      const r = replicas[(cursor + i) % replicas.length]!;
      if (exclude.has(r) || r.ejectedUntil > now) continue;
      if (!best || r.pending < best.pending) best = r;
    }
    cursor = (cursor + 1) % replicas.length;
    if (best) return best;
    // Everything is ejected or excluded: fail open to the one ejected longest ago.
    return [...replicas].sort((a, b) => a.ejectedUntil - b.ejectedUntil).find((r) => !exclude.has(r)) ?? replicas[0]!;
  }

  function record(r: Replica, err: unknown): void {
    if (err === undefined) {
      r.failures = 0;
      return;
    }
    if (ConnectError.from(err).code === Code.Unavailable) {
      r.failures++;
      r.ejectedUntil = Date.now() + Math.min(30_000, baseEjectMs * 2 ** (r.failures - 1));
    }
  }

  async function withReplicas<T>(retryable: boolean, signal: AbortSignal | undefined, call: (t: Transport) => Promise<T>): Promise<T> {
    const tried = new Set<Replica>();
    const maxAttempts = retryable ? 3 : 1;
    for (let attempt = 1; ; attempt++) {
      const r = pick(tried);
      tried.add(r);
      if (tried.size === replicas.length) tried.clear();
      r.pending++;
      try {
        const res = await call(r.transport);
        record(r, undefined);
        return res;
      } catch (err) {
        record(r, err);
        const code = ConnectError.from(err).code;
        if (code !== Code.Unavailable || attempt >= maxAttempts || signal?.aborted) throw err;
        // 25 ms, 50 ms, each +-50% jitter: enough for a restarted pod's socket to appear.
        await sleep(25 * 2 ** (attempt - 1) * (0.5 + Math.random()), signal);
      } finally {
        r.pending--;
      }
    }
  }

  return {
    unary<I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>,
      signal: AbortSignal | undefined,
      callTimeoutMs: number | undefined,
      header: Parameters<Transport["unary"]>[3],
      input: MessageInitShape<I>,
      contextValues?: ContextValues,
    ) {
      return withReplicas(isRetryable(method, input), signal, (t) =>
        t.unary(method, signal, callTimeoutMs, header, input, contextValues),
      );
    },
    stream<I extends DescMessage, O extends DescMessage>(
      method: DescMethodStreaming<I, O>,
      signal: AbortSignal | undefined,
      callTimeoutMs: number | undefined,
      header: Parameters<Transport["unary"]>[3],
      input: AsyncIterable<MessageInitShape<I>>,
      contextValues?: ContextValues,
    ) {
      // A request stream cannot be replayed, so streams are never retried.
      return withReplicas(false, signal, (t) => t.stream(method, signal, callTimeoutMs, header, input, contextValues));
    },
    replicas() {
      const now = Date.now();
      return replicas.map((r) => ({ url: r.url, pending: r.pending, ejected: r.ejectedUntil > now }));
    },
  };
}

/** A typed client for `service` over its replicas. */
export function createMeshClient<S extends DescService>(service: S, urls: readonly string[], opts: MeshClientOptions): Client<S> {
  return createClient(service, createMeshTransport(urls, opts));
}
