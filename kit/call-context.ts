/**
 * Per-call context carried through async work with AsyncLocalStorage: the request id,
 * the W3C trace context and the verified caller. The server interceptor opens it, logs
 * read it, and client interceptors forward it to the next hop, so handlers never pass
 * these values around by hand.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { randomBytes } from "node:crypto";
import { Code, ConnectError, createContextKey, type HandlerContext } from "@connectrpc/connect";

/** Who is calling, as established by kit/auth.ts. */
export interface Caller {
  /** The end user on whose behalf the call runs, or null for anonymous/service calls. */
  readonly userId: bigint | null;
  /** True when the call carried a valid mesh credential (it came from inside the mesh). */
  readonly fromMesh: boolean;
  /**
   * True when a service calls on its own behalf (event handlers, jobs), not for an end
   * user: it may read what no anonymous user may (e.g. private profiles for fan-out).
   */
  readonly service: boolean;
  /** The mesh process that signed the assertion (e.g. "edge", "feed"); absent without one. */
  readonly issuer?: string;
}

/**
 * Header in which the edge forwards the end user's IP (as far as it trusts proxies) to
 * the service it calls. A service reads it only on calls with a valid mesh credential,
 * for per-IP decisions such as the sign-in throttle.
 */
export const clientIpHeader = "oasis-client-ip";

export interface CallContext {
  readonly requestId: string;
  /** W3C trace id (32 hex chars) and this hop's span id (16 hex chars). */
  readonly traceId: string;
  readonly spanId: string;
  readonly caller: Caller;
}

export const anonymous: Caller = Object.freeze({ userId: null, fromMesh: false, service: false });

/** The caller of work a service does for itself (event handlers, periodic jobs). */
export const serviceCaller: Caller = Object.freeze({ userId: null, fromMesh: true, service: true });

const store = new AsyncLocalStorage<CallContext>();

/** The call context as a Connect context value too (set by the server interceptor). */
export const callContextKey = createContextKey<CallContext | undefined>(undefined, { description: "oasis call context" });

/**
 * The current call's context, or undefined outside a call (start-up, timers).
 * Streaming handlers must pass their HandlerContext: a server-stream generator's body
 * runs when Connect pulls from it, after the interceptor returned, where
 * AsyncLocalStorage no longer holds the call.
 */
export function currentCall(handler?: HandlerContext): CallContext | undefined {
  return store.getStore() ?? handler?.values.get(callContextKey);
}

/**
 * Who is calling in the current RPC (the verified caller; `anonymous` outside a call or
 * when none was asserted). `handler` finds it in a streaming handler's context too.
 */
export function currentCaller(handler?: HandlerContext): Caller {
  return currentCall(handler)?.caller ?? anonymous;
}

/**
 * The signed-in user of the current RPC, for ACCESS_USER methods (the kit's access check
 * lets no call without one reach them). UNAUTHENTICATED if there is none all the same.
 */
export function currentUserId(handler?: HandlerContext): bigint {
  const id = currentCaller(handler).userId;
  if (id === null) throw new ConnectError("this method requires a signed-in user", Code.Unauthenticated);
  return id;
}

/** Runs `fn` with `ctx` as the current call context. */
export function runInCall<T>(ctx: CallContext, fn: () => T): T {
  return store.run(ctx, fn);
}

export function newRequestId(): string {
  return randomBytes(12).toString("base64url");
}

export function newTraceId(): string {
  return randomBytes(16).toString("hex");
}

export function newSpanId(): string {
  return randomBytes(8).toString("hex");
}

/** Parses a W3C `traceparent` (version 00) header; undefined when absent or malformed. */
export function parseTraceparent(value: string | null | undefined): { traceId: string; parentId: string } | undefined {
  if (!value) return undefined;
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/.exec(value.trim());
  if (!m || /^0+$/.test(m[1]!) || /^0+$/.test(m[2]!)) return undefined;
  return { traceId: m[1]!, parentId: m[2]! };
}

/** Formats the `traceparent` header for a child call of the given context. */
export function formatTraceparent(traceId: string, spanId: string): string {
  return `00-${traceId}-${spanId}-01`;
}
