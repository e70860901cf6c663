/**
 * Server interceptors that establish who is calling and in which request, so later
 * interceptors, handlers and outgoing calls can rely on kit/call-context.ts.
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { methodDisabled, noSwitches, type KillSwitchState } from "./kill-switches.ts";
import { endSpan, SpanKind, startSpan, traceparentOf, withSpan } from "./tracing.ts";
import { methodAccess, checkAccess, callerHeader, createCallerVerifier, isOperator, type MeshIdentity } from "./auth.ts";
import { notAdmin } from "./admin-service.ts";
import { anonymous, callContextKey, currentCall, newRequestId, newSpanId, newTraceId, parseTraceparent, runInCall } from "./call-context.ts";

/** Accepted request ids: what common proxies generate (UUIDs, base64url), bounded. */
const requestIdPattern = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * Opens the call context: request id (from `x-request-id` when well-formed, else new),
 * trace (from `traceparent`, else a new trace), caller (`oasis-caller` verified by
 * `identity` as the audience, for the method called). The request id is echoed in
 * response headers and in error metadata.
 */
export function callContextInterceptor(identity: MeshIdentity): Interceptor {
  const verifyCaller = createCallerVerifier(identity);
  return (next) => async (req) => {
    const given = req.header.get("x-request-id");
    const requestId = given && requestIdPattern.test(given) ? given : newRequestId();
    const parent = parseTraceparent(req.header.get("traceparent"));
    let caller;
    try {
      caller = verifyCaller(req.header.get(callerHeader), `${req.service.typeName}/${req.method.name}`) ?? anonymous;
    } catch (err) {
      (err as ConnectError).metadata.set("x-request-id", requestId);
      throw err;
    }
    const span = startSpan(`${req.service.typeName}/${req.method.name}`, SpanKind.SERVER, req.header.get("traceparent"), {
      "rpc.system": "grpc",
      "rpc.service": req.service.typeName,
      "rpc.method": req.method.name,
      "oasis.request_id": requestId,
    });
    const traced = traceparentOf(span);
    const ctx = { requestId, traceId: parent?.traceId ?? newTraceId(), spanId: traced ? span.spanContext().spanId : newSpanId(), caller };
    req.contextValues.set(callContextKey, ctx);
    return withSpan(span, () =>
      runInCall(ctx, async () => {
        try {
          const res = await next(req);
          res.header.set("x-request-id", requestId);
          endSpan(span);
          return res;
        } catch (err) {
          const ce = ConnectError.from(err);
          ce.metadata.set("x-request-id", requestId);
          span.setAttribute("rpc.grpc.status_code", ce.code);
          endSpan(span, ce);
          throw ce;
        }
      }),
    );
  };
}

/** gRPC reflection: lists every method and message a service has. */
const reflectionPackage = "grpc.reflection.";

/**
 * Enforces each method's `(oasis.api.v1.access)` against the verified caller. gRPC
 * reflection answers only mesh callers unless `openReflection` (dev mode): the method
 * list is a map of the internal API, not something to hand to whoever reaches a port.
 */
export function accessInterceptor(opts: { openReflection?: boolean } = {}): Interceptor {
  return (next) => async (req) => {
    const caller = currentCall()?.caller ?? anonymous;
    const name = `${req.service.typeName}/${req.method.name}`;
    if (!opts.openReflection && !caller.fromMesh && req.service.typeName.startsWith(reflectionPackage)) {
      throw new ConnectError(`${name} answers mesh callers only`, Code.PermissionDenied);
    }
    checkAccess(methodAccess(req.method), caller, name);
    // The kit's AdminService keeps no list of admin users: the operator identity only,
    // refused before validation so no request shape tells a caller anything.
    if (req.service.typeName === neverSwitchedOff && !isOperator(caller)) throw notAdmin();
    return next(req);
  };
}

/** Methods kill switches never refuse: the operators' own (kit/admin-service.ts). */
const neverSwitchedOff = "oasis.admin.v1.AdminService";

/**
 * Applies the kill switches (kit/kill-switches.ts) to every call: a disabled method or
 * service is refused for everyone (UNAVAILABLE); in read-only mode a method with side
 * effects (not `NO_SIDE_EFFECTS`) is refused when it acts for a signed-in user
 * (UNAVAILABLE), so sign-in and services' own event handling go on; a frozen user's
 * calls with side effects are refused (PERMISSION_DENIED). Uploads, shedding and
 * fan-out are switched where they happen (the edge's route classes, feed's fan-out).
 */
export function killSwitchInterceptor(state: () => KillSwitchState): Interceptor {
  return (next) => async (req) => {
    const s = state();
    if (s === noSwitches || req.service.typeName === neverSwitchedOff) return next(req);
    const name = `${req.service.typeName}/${req.method.name}`;
    if (methodDisabled(s, name)) throw new ConnectError(`${name} is switched off by an operator`, Code.Unavailable);
    const user = (currentCall()?.caller ?? anonymous).userId;
    if (user !== null && req.method.idempotency !== MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS) {
      if (s.frozenUsers.has(user.toString())) throw new ConnectError("this account's writes are frozen by an operator", Code.PermissionDenied);
      if (s.readOnly) throw new ConnectError("Oasis is in read-only mode: writes are refused for now", Code.Unavailable);
    }
    return next(req);
  };
}
