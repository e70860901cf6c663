/**
 * Per-request facts the edge derives once: request id (kept from `x-request-id` when
 * well-formed), W3C trace context for the upstream call, the client IP (from
 * X-Forwarded-For only as far as trusted proxies go), and the parsed URL.
 */
import { formatTraceparent, newRequestId, newSpanId, newTraceId, parseTraceparent } from "#kit/call-context.ts";

export interface RequestContext {
  readonly req: Request;
  readonly url: URL;
  readonly requestId: string;
  readonly traceparent: string;
  readonly clientIp: string;
  /** What the steps learn for the access log (access-log.ts): the user, the upstream called. */
  readonly facts: { user: bigint | null; upstream: string | null };
}

const requestIdPattern = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * `peerIp` is the TCP peer; `trustedProxies` how many proxies in front of the edge
 * append to X-Forwarded-For (0: ignore the header, it is client-controlled);
 * `traceparent` the one upstream calls carry (the request's span), if traced.
 */
export function requestContext(req: Request, peerIp: string, trustedProxies: number, traceparent?: string): RequestContext {
  const given = req.headers.get("x-request-id");
  const parent = parseTraceparent(req.headers.get("traceparent"));
  let clientIp = peerIp;
  if (trustedProxies > 0) {
    const hops = (req.headers.get("x-forwarded-for") ?? "").split(",").map((s) => s.trim()).filter(Boolean);
    // Each trusted proxy appended the address it saw; the client is the one just left of them.
    const candidate = hops[hops.length - trustedProxies];
    if (candidate) clientIp = candidate;
  }
  return {
    req,
    url: new URL(req.url),
    requestId: given && requestIdPattern.test(given) ? given : newRequestId(),
    // The edge's request span when tracing is on (kit/tracing.ts), else a fresh child id.
    traceparent: traceparent ?? formatTraceparent(parent?.traceId ?? newTraceId(), newSpanId()),
    clientIp,
    facts: { user: null, upstream: null },
  };
}
