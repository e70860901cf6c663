/**
 * Server interceptors that establish who is calling and in which request, so later
 * interceptors, handlers and outgoing calls can rely on kit/call-context.ts.
 */
import { ConnectError, type Interceptor } from "@connectrpc/connect";
import { methodAccess, checkAccess, callerHeader, verifyCaller } from "./auth.ts";
import { anonymous, callContextKey, currentCall, newRequestId, newSpanId, newTraceId, parseTraceparent, runInCall } from "./call-context.ts";

/** Accepted request ids: what common proxies generate (UUIDs, base64url), bounded. */
const requestIdPattern = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * Opens the call context: request id (from `x-request-id` when well-formed, else new),
 * trace (from `traceparent`, else a new trace), caller (verified `oasis-caller`). The
 * request id is echoed in response headers and in error metadata.
 */
export function callContextInterceptor(meshSecret: string): Interceptor {
  return (next) => async (req) => {
    const given = req.header.get("x-request-id");
    const requestId = given && requestIdPattern.test(given) ? given : newRequestId();
    const parent = parseTraceparent(req.header.get("traceparent"));
    let caller;
    try {
      caller = verifyCaller(meshSecret, req.header.get(callerHeader)) ?? anonymous;
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

/** Enforces each method's `(oasis.api.v1.access)` against the verified caller. */
export const accessInterceptor: Interceptor = (next) => async (req) => {
  checkAccess(methodAccess(req.method), currentCall()?.caller ?? anonymous, `${req.service.typeName}/${req.method.name}`);
  return next(req);
};
