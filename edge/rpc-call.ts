/**
 * The steps every RPC through the edge takes, whatever its HTTP shape (Connect or
 * REST): shed load and apply the kill switches (kill-switch-gate.ts), authenticate the
 * bearer token, check the method's access level, charge the
 * rate limits of its route class and refuse a revoked session (one Redis call), decode the request (so bad input never reaches a
 * service), call the upstream within one capped deadline (cancelled if the client
 * goes away) unless the page path (page-path.ts) serves a timeline page from the
 * feed's Redis, and encode the answer.
 *
 * RateLimit headers: the edge reports its own limit of the route class; when the
 * upstream enforces a limit of its own and reports it in RateLimit-* response headers
 * (e.g. chat's messages per minute), the app gets the tighter of the two (fewer
 * remaining; on a tie the later reset, kit/rate-limit-headers.ts tighterLimit), on
 * success and on refusal. One limit, not both: the draft's separate fields carry one
 * limit, and the one with fewer requests left is the one the client must pace itself
 * by. The Retry-After of an upstream's refusal comes from its RetryInfo (http-errors.ts).
 */
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { fromBinary, toBinary, type DescMessage, type Message } from "@bufbuild/protobuf";
import { Access } from "#kit/auth.ts";
import { rateLimitFields, tighterLimit, type RateLimitState } from "#kit/rate-limit-headers.ts";
import type { TokenVerifier } from "./auth.ts";
import { requestTimeoutMs, requireAccess } from "./connect-handler.ts";
import type { EdgeConfig } from "./config.ts";
import { errorReply } from "./http-errors.ts";
import { gcraScript, rateLimitHeaders, verdictOf, type Decision, type RateLimiter, type RouteClass } from "./rate-limit.ts";
import type { PageGate } from "../services/feed/page-path/index.ts";
import type { PagePath } from "./page-path.ts";
import { flightTimeoutMs, type SearchPagePath } from "./search-page-path.ts";
import type { RoutedMethod } from "./registry.ts";
import type { Reply } from "./reply.ts";
import type { RequestContext } from "./request-context.ts";
import type { CallMeta, Upstreams } from "./upstream.ts";
import type { JsonReuse } from "./json-reuse.ts";
import type { KillSwitchState } from "#kit/kill-switches.ts";
import { shedRefusal, switchRefusal } from "./kill-switch-gate.ts";
import { withheldFromApp } from "./withheld.ts";

export interface RpcDeps {
  readonly config: EdgeConfig;
  /** The kill switches now (kit/kill-switches.ts), applied by kill-switch-gate.ts. */
  readonly switches: () => KillSwitchState;
  readonly verifier: TokenVerifier;
  readonly limiter: RateLimiter;
  readonly upstreams: Upstreams;
  /** Renderings of answers kept for identical answers (json-reuse.ts). */
  readonly jsonReuse: JsonReuse;
  /** Serves timeline pages from the feed's Redis (page-path.ts); absent or a miss: the upstream. */
  readonly pagePath?: PagePath;
  /** Answers anonymous searches from search's Redis (search-page-path.ts); absent or a miss: the upstream. */
  readonly searchPagePath?: SearchPagePath;
}

/**
 * An upstream's answer as it came (binary Protobuf), decoded only when a renderer asks
 * for the message: a binary Connect reply forwards the bytes, and a JSON rendering kept
 * by json-reuse.ts needs no decoding at all. An answer the edge made itself (the page
 * path's) starts as a message and is encoded only if a renderer asks for the bytes.
 */
export class UpstreamAnswer {
  private decoded: Message | undefined;
  private encoded: Uint8Array | undefined;
  constructor(
    readonly routed: RoutedMethod,
    bytes: Uint8Array | undefined,
    message?: Message,
    /**
     * The whole message's proto3 JSON when whoever made the answer rendered it with the
     * bytes (the page path's rendered items): renderers use it as it is (text, or its
     * UTF-8 bytes with OASIS_EDGE_PAGE_SPLICE).
     */
    readonly json?: string | Uint8Array,
  ) {
    this.encoded = bytes;
    this.decoded = message;
  }

  /** An answer made by the edge itself (page-path.ts). */
  static ofMessage(routed: RoutedMethod, message: Message): UpstreamAnswer {
    return new UpstreamAnswer(routed, undefined, message);
  }

  /** The answer's binary Protobuf (encoded once, on first use, for an answer made here). */
  get bytes(): Uint8Array {
    return (this.encoded ??= toBinary(this.routed.method.output as DescMessage, this.decoded!));
  }

  /** The decoded message (decoded once, on first use). */
  get message(): Message {
    return (this.decoded ??= fromBinary(this.routed.method.output as DescMessage, this.encoded!));
  }
}

/**
 * Route class of a method for rate limiting: side-effect-free methods are reads;
 * public methods with effects (sign-up, sign-in) are auth; everything else writes.
 */
export function routeClassOf(routed: RoutedMethod): RouteClass {
  if (routed.method.idempotency === MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS) return "read";
  if (routed.access === Access.PUBLIC) return "auth";
  return "write";
}

/**
 * Runs one RPC. `decode` builds the request message (may read the body; a message
 * built without waiting may be returned as it is); `encode` renders the answer. Errors become JSON error replies.
 */
export async function runRpc(
  deps: RpcDeps,
  ctx: RequestContext,
  routed: RoutedMethod,
  decode: () => Message | Promise<Message>,
  encode: (answer: UpstreamAnswer, headers: Record<string, string>) => Reply,
  routeClass: RouteClass = routeClassOf(routed),
): Promise<Reply> {
  let limitHeaders: Record<string, string> = {};
  let edgeLimit: RateLimitState | undefined;
  let upstreamLimit: RateLimitState | undefined;
  // The edge's headers unless the upstream reported a tighter limit of its own.
  const headers = () => (upstreamLimit && (!edgeLimit || tighterLimit(upstreamLimit, edgeLimit) === upstreamLimit) ? rateLimitFields(upstreamLimit) : limitHeaders);
  // The client's deadline covers the whole edge request, so it starts counting here.
  const deadlineMs = Date.now() + requestTimeoutMs(ctx.req, deps.config.defaultTimeoutMs, deps.config.maxTimeoutMs);
  ctx.facts.upstream = routed.upstream;
  const switches = deps.switches();
  const shed = shedRefusal(switches, routeClass);
  if (shed) return errorReply(shed.error, shed.headers);
  try {
    const authorization = ctx.req.headers.get("authorization");
    // A token verified before answers without a promise (design note 62).
    const user = deps.verifier.known?.(authorization) ?? (await deps.verifier.verify(authorization));
    ctx.facts.user = user?.userId ?? null;
    requireAccess(routed.access, user);
    const off = switchRefusal(switches, `${routed.method.parent.typeName}/${routed.method.name}`, routeClass, user?.userId ?? null);
    if (off) return errorReply(off.error, off.headers);
    const userId = user?.userId ?? null;
    const sessionId = user?.sessionId || undefined;
    const limited = ({ revoked, decision }: { revoked: boolean; decision?: Decision }) => {
      if (revoked) throw new ConnectError("invalid bearer token: the session was revoked", Code.Unauthenticated);
      if (decision) {
        limitHeaders = rateLimitHeaders(decision);
        edgeLimit = decision;
        if (!decision.allowed) {
          throw new ConnectError(`rate limit exceeded for ${routeClass} requests; retry in ${decision.retryAfterSeconds} s`, Code.ResourceExhausted);
        }
      }
    };
    // A timeline page read by the page path: the rate limit and the revocation check go in
    // the page's own Lua call (one round trip; the page is read only if they pass).
    const plan = deps.pagePath?.gates(routed, userId) ? deps.limiter.plan(routeClass, userId, ctx.clientIp, sessionId) : undefined;
    if (!plan) limited(await deps.limiter.check(routeClass, userId, ctx.clientIp, sessionId));
    let message: Message;
    try {
      const decoded = decode();
      message = decoded instanceof Promise ? await decoded : decoded;
    } catch (err) {
      // Bad input is charged like any request.
      if (plan) limited(await deps.limiter.check(routeClass, userId, ctx.clientIp, sessionId));
      throw err;
    }
    const meta: CallMeta = {
      userId,
      clientIp: ctx.clientIp,
      requestId: ctx.requestId,
      traceparent: ctx.traceparent,
      deadlineMs,
      signal: ctx.req.signal,
      onRateLimit: (s) => (upstreamLimit = s),
    };
    const gate: PageGate | undefined = plan && { name: "gcra", lua: gcraScript, keys: plan.keys.map((k) => deps.limiter.keyPrefix + k), args: plan.args };
    const page = await deps.pagePath?.serve(routed, message, meta.userId, meta, gate);
    // The script did not run (a bad page token, Redis failing): checked the usual way.
    if (plan) limited(gate!.verdict ? verdictOf(plan, gate!.verdict) : await deps.limiter.check(routeClass, userId, ctx.clientIp, sessionId));
    if (page) {
      ctx.facts.upstream = "feed-redis";
      return encode(page.bytes ? new UpstreamAnswer(routed, page.bytes, undefined, page.json) : UpstreamAnswer.ofMessage(routed, page.message), headers());
    }
    // A flight the search page path makes for a page (one per page at a time, its answer
    // shared by every anonymous request for the page): not bound to this client.
    const flight = () =>
      deps.upstreams.unaryBytes(routed, message, { userId: null, clientIp: meta.clientIp, requestId: meta.requestId, traceparent: meta.traceparent, deadlineMs: Date.now() + flightTimeoutMs });
    const stored = await deps.searchPagePath?.serve(routed, message, meta.userId, flight, deadlineMs);
    if (stored) {
      ctx.facts.upstream = "search-redis";
      return encode(new UpstreamAnswer(routed, stored), headers());
    }
    // What the app may see of the answer (withheld.ts: not who blocked the caller).
    const bytes = withheldFromApp(routed, await deps.upstreams.unaryBytes(routed, message, meta));
    await deps.pagePath?.answered(routed, message, user?.userId ?? null, meta);
    return encode(new UpstreamAnswer(routed, bytes), headers());
  } catch (err) {
    return errorReply(err, headers());
  }
}
