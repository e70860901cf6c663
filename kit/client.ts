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
 * Replica selection and ejection: kit/replicas.ts; `dns:///host:port` URLs become one
 * replica per address, re-resolved (kit/discovery.ts).
 */
import type { DescMessage, DescMethodStreaming, DescMethodUnary, DescService, MessageInitShape } from "@bufbuild/protobuf";
import { MethodOptions_IdempotencyLevel as Idempotency } from "@bufbuild/protobuf/wkt";
import {
  Code,
  ConnectError,
  createClient,
  createContextKey,
  createContextValues,
  type CallOptions,
  type Client,
  type ContextValues,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import { compressionGzip, createConnectTransport } from "@connectrpc/connect-node";
import { createConnectTransport as createFetchTransport } from "@connectrpc/connect-web";
import { audienceOf, cachedCaller, callerHeader, type CallerWho, type MeshIdentity } from "./auth.ts";
import { currentCall, formatTraceparent, newRequestId, newSpanId, newTraceId } from "./call-context.ts";
import { discoveredReplicaSet } from "./discovery.ts";
import { endSpan, SpanKind, startSpan, traceparentOf, tracingOn } from "./tracing.ts";
import { remainingMs, type ReplicaState } from "./replicas.ts";

export type { ReplicaState };

export interface MeshClientOptions {
  /** The calling process's mesh identity (`rt.config.mesh`); signs every call's assertion. */
  readonly meshSecret: MeshIdentity;
  /**
   * Mesh name of the service these URLs serve, the assertions' audience. Default: from
   * the called method's package (mesh.config.ts), which is right for every Oasis service.
   */
  readonly audience?: string;
  /** Deadline of a call that sets none, ms; 0 for none (long-lived streams). */
  readonly timeoutMs?: number;
  /**
   * "2" (default): HTTP/2 h2c via node:http2, one multiplexed connection per replica.
   * "1.1": HTTP/1.1 keep-alive via Bun's fetch; measured cheaper per call on Bun (see
   * bench/), kept as an option until the default is revisited.
   */
  readonly httpVersion?: "2" | "1.1";
  /**
   * Accept gzip-compressed answers over HTTP/2 (a kit server compresses answers over 1
   * KiB for a caller that accepts it). Default false: inside the mesh the link is a LAN or
   * loopback, and compressing costs the callee and the caller more CPU than the bytes
   * cost (media's BatchGetMedia to post: 11% of media's CPU in a compose, bench/README.md
   * stop 27).
   */
  readonly gzip?: boolean;
  /** How long an `unavailable` replica is skipped, ms (doubles per repeat, max 30 s). */
  readonly ejectMs?: number;
  /** Extra interceptors, e.g. the edge's own header mapping. */
  readonly interceptors?: readonly Interceptor[];
  /** How often `dns:///` URLs are resolved again, ms (kit/discovery.ts). Default 5 s. */
  readonly dnsRefreshMs?: number;
}

export const defaultTimeoutMs = 5_000;

/** Who one call speaks for, when a service chooses instead of forwarding its caller. */
const actAsKey = createContextKey<{ who: CallerWho } | undefined>(undefined, { description: "oasis act-as" });

/**
 * Forwards the current call's context: a caller assertion signed by `identity` for the
 * called service and method, for the same user, anonymous user or service (outside any
 * call: the service itself; `asService`/`asUser` choose explicitly), unless the call
 * already carries one as edge calls do; the request id; a child `traceparent`.
 */
export function propagationInterceptor(identity: MeshIdentity, audience?: string): Interceptor {
  return (next) => async (req) => {
    const call = currentCall();
    if (!req.header.has(callerHeader)) {
      const chosen = req.contextValues.get(actAsKey);
      const c = call?.caller;
      const who: CallerWho = chosen ? chosen.who : !c || c.service ? "service" : c.userId;
      const aud = audience ?? audienceOf(req.service.typeName);
      if (!aud) throw new Error(`no mesh audience for ${req.service.typeName}: pass MeshClientOptions.audience`);
      req.header.set(callerHeader, cachedCaller(identity, { audience: aud, method: `${req.service.typeName}/${req.method.name}` }, who));
    }
    if (!req.header.has("x-request-id")) req.header.set("x-request-id", call?.requestId ?? newRequestId());
    if (req.header.has("traceparent") || !tracingOn()) {
      if (!req.header.has("traceparent")) req.header.set("traceparent", formatTraceparent(call?.traceId ?? newTraceId(), newSpanId()));
      return next(req);
    }
    // A client span, child of the active one (the handler's server span, a consumer's span).
    const span = startSpan(`${req.service.typeName}/${req.method.name}`, SpanKind.CLIENT, undefined, { "rpc.system": "grpc", "rpc.service": req.service.typeName, "rpc.method": req.method.name });
    req.header.set("traceparent", traceparentOf(span)!);
    try {
      const res = await next(req);
      endSpan(span);
      return res;
    } catch (err) {
      endSpan(span, err);
      throw err;
    }
  };
}

function actAs(who: CallerWho): CallOptions {
  return { contextValues: createContextValues().set(actAsKey, { who }) };
}

/**
 * Call options that make one call on the service's own behalf (caller "~") instead of
 * the current user's: for lookups a service needs whatever the user may see, such as a
 * private account's flag while deciding visibility. The transport's identity signs it
 * (the argument is no longer needed; it stays so older call sites compile).
 */
export function asService(_identity?: unknown): CallOptions {
  return actAs("service");
}

/**
 * Call options for one call made on behalf of `userId` by a service acting for itself
 * (e.g. "what may this recipient see?" while delivering a notification): the callee
 * applies that user's permissions, never more. `asUser(id)`; the older two-argument
 * form `asUser(rt.config.meshSecret, id)` still compiles and ignores the first.
 */
export function asUser(userId: bigint): CallOptions;
/** @deprecated the identity argument is ignored: use `asUser(userId)`. */
export function asUser(identity: unknown, userId: bigint): CallOptions;
export function asUser(a: unknown, b?: bigint): CallOptions {
  return actAs(b === undefined ? (a as bigint) : b);
}

/** True when repeating the call cannot duplicate an effect. */
export function isRetryable(method: { idempotency: Idempotency }, input: unknown): boolean {
  if (method.idempotency === Idempotency.NO_SIDE_EFFECTS) return true;
  const requestId = (input as { requestId?: unknown } | null)?.requestId;
  return typeof requestId === "string" && requestId.length > 0;
}

export interface BalancedTransport extends Transport {
  replicas(): ReplicaState[];
}

/** A transport over one or more replicas of the same service. */
export function createMeshTransport(urls: readonly string[], opts: MeshClientOptions): BalancedTransport {
  const timeoutMs = opts.timeoutMs === 0 ? undefined : (opts.timeoutMs ?? defaultTimeoutMs);
  const interceptors = [propagationInterceptor(opts.meshSecret, opts.audience), ...(opts.interceptors ?? [])];
  const { set, discovery } = discoveredReplicaSet<Transport>(
    urls,
    (url) =>
      opts.httpVersion === "1.1"
        ? createFetchTransport({ baseUrl: url, useBinaryFormat: true, interceptors, defaultTimeoutMs: timeoutMs })
        : createConnectTransport({
            baseUrl: url,
            httpVersion: "2",
            useBinaryFormat: true,
            interceptors,
            defaultTimeoutMs: timeoutMs,
            acceptCompression: opts.gzip ? [compressionGzip] : [],
            // Bun's http2 client can hang on a session left idle: ping it, and drop it
            // before the server's 5-minute idle timeout does.
            pingIntervalMs: 30_000,
            pingTimeoutMs: 10_000,
            pingIdleConnection: true,
            idleConnectionTimeoutMs: 240_000,
          }),
    { ejectMs: opts.ejectMs, refreshMs: opts.dnsRefreshMs },
  );
  // `dns:///` URLs: the first call waits for the first resolution; later ones find it done.
  const withReplicas = async <R>(retryable: boolean, signal: AbortSignal | undefined, call: (t: Transport) => Promise<R>) => {
    if (discovery.dynamic) await discovery.start();
    return set.run(retryable, signal, call);
  };

  return {
    unary<I extends DescMessage, O extends DescMessage>(
      method: DescMethodUnary<I, O>,
      signal: AbortSignal | undefined,
      callTimeoutMs: number | undefined,
      header: Parameters<Transport["unary"]>[3],
      input: MessageInitShape<I>,
      contextValues?: ContextValues,
    ) {
      // One deadline for every attempt: a retry gets only the time the first one left.
      const budgetMs = callTimeoutMs ?? timeoutMs;
      const deadlineMs = budgetMs === undefined || budgetMs <= 0 ? undefined : Date.now() + budgetMs;
      return withReplicas(isRetryable(method, input), signal, (t) =>
        t.unary(method, signal, deadlineMs === undefined ? callTimeoutMs : remainingMs(deadlineMs), header, input, contextValues),
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
      return set.states();
    },
  };
}

/** A typed client for `service` over its replicas. */
export function createMeshClient<S extends DescService>(service: S, urls: readonly string[], opts: MeshClientOptions): Client<S> {
  return createClient(service, createMeshTransport(urls, opts));
}

/**
 * Awaits a call to an upstream the caller can do without (e.g. counts on a page):
 * `empty` when there is no client (`p` undefined) or the upstream is unavailable, does
 * not implement the method, or misses the deadline; any other error is thrown.
 */
export async function optionalCall<T>(p: Promise<T> | undefined, empty: T): Promise<T> {
  if (!p) return empty;
  try {
    return await p;
  } catch (err) {
    const code = ConnectError.from(err).code;
    if (code === Code.Unavailable || code === Code.Unimplemented || code === Code.DeadlineExceeded) return empty;
    throw err;
  }
}
