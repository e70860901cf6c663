/**
 * Server interceptors that establish who is calling and in which request, so later
 * interceptors, handlers and outgoing calls can rely on kit/call-context.ts.
 */
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";
import { methodAccess, checkAccess, callerHeader, createCallerVerifier, type MeshIdentity } from "./auth.ts";
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
    const ctx = { requestId, traceId: parent?.traceId ?? newTraceId(), spanId: newSpanId(), caller };
    req.contextValues.set(callContextKey, ctx);
    return runInCall(ctx, async () => {
      try {
        const res = await next(req);
        res.header.set("x-request-id", requestId);
        return res;
      } catch (err) {
        const ce = ConnectError.from(err);
        ce.metadata.set("x-request-id", requestId);
        throw ce;
      }
    });
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
    return next(req);
  };
}
