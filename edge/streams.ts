/**
 * Server-streaming RPCs through the edge (StreamNotifications), two ways:
 * - Connect server streaming (https://connectrpc.com/docs/protocol#streaming-rpcs):
 *   POST `/<Service>/<Method>` with `application/connect+json`; the request is one
 *   enveloped message (1 flag byte, 4-byte big-endian length, JSON), the response is a
 *   sequence of enveloped messages ending with an end-stream envelope (flag 0x02) that
 *   carries an error, if any.
 * - Server-Sent Events for JSON clients (HTML Living Standard, section 9.2): a GET on
 *   the method's REST path (`/v1/notifications:stream`) answers `text/event-stream`, one
 *   `data:` event per message, with a comment line every 15 s so proxies keep it open.
 * Upstream it is a Connect stream over HTTP/2 (kit mesh transport), cancelled when the
 * client goes away.
 *
 * Before answering, a stream is admitted: the bearer token verified and its session not
 * revoked, the "stream" rate limit charged (opening is limited like any request), and
 * the user's concurrent streams capped (`maxStreamsPerUser`, counted in Redis across
 * edges). An open stream ends with `unauthenticated` when its access token expires
 * (the app reconnects with a fresh one) or when its session is revoked (identity
 * announces revoked sessions on a Redis channel, kit/edge-keys.ts).
 */
import type { DescMessage, Message } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import { errorToJson } from "@connectrpc/connect/protocol-connect";
import { callerHeader, signCaller } from "#kit/auth.ts";
import { revocationChannel } from "#kit/edge-keys.ts";
import type { Redis } from "#kit/redis.ts";
import { createMeshTransport, type BalancedTransport } from "#kit/client.ts";
import type { EdgeDeps, EdgeRoute, Routed } from "./app.ts";
import { readBody } from "./body.ts";
import { requireAccess } from "./connect-handler.ts";
import type { VerifiedUser } from "./auth.ts";
import { errorReply } from "./http-errors.ts";
import { decodeJson, encodeJson } from "./json-codec.ts";
import type { RoutedMethod } from "./registry.ts";
import type { RequestContext } from "./request-context.ts";
import { shedRefusal, switchRefusal } from "./kill-switch-gate.ts";

const heartbeatMs = 15_000;

/** Concurrent streams one user may hold across all edges: an app needs one per device. */
export const maxStreamsPerUser = 5;

// KEYS[1]: the user's open streams (sorted set, score = when the stream must end, ms).
// ARGV: stream id, its end (ms since epoch), the cap. Drops entries past their end
// (streams of a crashed edge), then admits if under the cap. Returns 1 or 0.
const streamOpenScript = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], math.max(1000, tonumber(ARGV[2]) - now + 1000))
return 1
`;

/** An admitted stream: its caller, and how to give its slot back. */
interface Admission {
  readonly user: VerifiedUser | null;
  release(): void;
}
const encoder = new TextEncoder();

function envelope(flags: number, json: string): Uint8Array {
  const body = encoder.encode(json);
  const out = new Uint8Array(5 + body.byteLength);
  out[0] = flags;
  new DataView(out.buffer).setUint32(1, body.byteLength);
  out.set(body, 5);
  return out;
}

export function streamRoutes(deps: EdgeDeps, sse: Record<string, string>): EdgeRoute[] {
  const transports = new Map<string, BalancedTransport>();
  const transport = (upstream: string) => {
    let t = transports.get(upstream);
    if (!t) {
      // No default deadline: a live stream lasts as long as the client stays.
      t = createMeshTransport(deps.config.upstreams[upstream] ?? [], { meshSecret: deps.config.mesh, audience: upstream, timeoutMs: 0 });
      transports.set(upstream, t);
    }
    return t;
  };

  (deps.redis as unknown as { defineCommand(n: string, d: { numberOfKeys: number; lua: string }): void }).defineCommand("oasisStreamOpen", {
    numberOfKeys: 1,
    lua: streamOpenScript,
  });
  const onRevoked = new Map<string, Set<() => void>>();
  let subscriber: Redis | undefined;
  /** Subscribes (once per edge) to identity's revocation announcements. */
  function watchRevocations(): void {
    if (subscriber) return;
    subscriber = deps.redis.duplicate();
    void subscriber.subscribe(revocationChannel(deps.config.namespace)).catch(() => {});
    subscriber.on("message", (_channel: string, sessionId: string) => {
      for (const close of onRevoked.get(sessionId) ?? []) close();
    });
  }

  /**
   * Admits a stream before anything is answered: the kill switches, token, access, revocation and the
   * "stream" rate limit (one Redis call), then the per-user cap. Throws ConnectErrors.
   */
  async function admit(ctx: RequestContext, routed: RoutedMethod): Promise<Admission> {
    const switches = deps.switches();
    const shed = shedRefusal(switches, "stream");
    if (shed) throw shed.error;
    ctx.facts.upstream = routed.upstream;
    const user = await deps.verifier.verify(ctx.req.headers.get("authorization"));
    ctx.facts.user = user?.userId ?? null;
    requireAccess(routed.access, user);
    const off = switchRefusal(switches, `${routed.method.parent.typeName}/${routed.method.name}`, "stream", user?.userId ?? null);
    if (off) throw off.error;
    const { revoked, decision } = await deps.limiter.check("stream", user?.userId ?? null, ctx.clientIp, user?.sessionId || undefined);
    if (revoked) throw new ConnectError("invalid bearer token: the session was revoked", Code.Unauthenticated);
    if (decision && !decision.allowed) {
      throw new ConnectError(`rate limit exceeded for opening streams; retry in ${decision.retryAfterSeconds} s`, Code.ResourceExhausted);
    }
    if (!user) return { user, release() {} };
    const key = `streams:u:${user.userId}`;
    const id = ctx.requestId + ":" + Math.random().toString(36).slice(2);
    const redis = deps.redis as unknown as { oasisStreamOpen(key: string, id: string, endMs: number, cap: number): Promise<number>; zrem(k: string, m: string): Promise<number> };
    const admitted = await redis.oasisStreamOpen(key, id, user.expiresAtMs, maxStreamsPerUser).catch(() => 1);
    if (admitted !== 1) throw new ConnectError(`at most ${maxStreamsPerUser} open streams per user; close one first`, Code.ResourceExhausted);
    let released = false;
    return {
      user,
      release() {
        if (released) return;
        released = true;
        void redis.zrem(key, id).catch(() => {});
      },
    };
  }

  /** Opens the upstream stream for an admitted caller; yields response messages. */
  async function open(ctx: RequestContext, routed: RoutedMethod, request: Message, signal: AbortSignal, user: VerifiedUser | null) {
    const client = createClient(routed.method.parent, transport(routed.upstream)) as unknown as Record<
      string,
      (req: Message, opts: { headers: Record<string, string>; signal: AbortSignal }) => AsyncIterable<Message>
    >;
    const call = client[routed.method.localName]!;
    return call(request, {
      headers: { [callerHeader]: signCaller(deps.config.mesh, { audience: routed.upstream, method: routed.path.slice(1) }, user?.userId ?? null), "x-request-id": ctx.requestId, traceparent: ctx.traceparent },
      signal,
    });
  }

  /**
   * A ReadableStream fed by an upstream stream; `frame` renders messages, `end` the
   * close. Ends with `unauthenticated` at the token's expiry or its session's revocation.
   */
  function relay(
    ctx: RequestContext,
    routed: RoutedMethod,
    request: Message,
    admission: Admission,
    frame: (m: Message) => Uint8Array,
    end: (err?: ConnectError) => Uint8Array | undefined,
    heartbeat?: Uint8Array,
  ): ReadableStream<Uint8Array> {
    const abort = new AbortController();
    const user = admission.user;
    let timer: ReturnType<typeof setInterval> | undefined;
    let expiry: ReturnType<typeof setTimeout> | undefined;
    const stopWith = (why: string) => () => abort.abort(new ConnectError(why, Code.Unauthenticated));
    const revoked = stopWith("the session was revoked");
    const cleanup = () => {
      if (timer) clearInterval(timer);
      if (expiry) clearTimeout(expiry);
      if (user) onRevoked.get(user.sessionId)?.delete(revoked);
      if (user && onRevoked.get(user.sessionId)?.size === 0) onRevoked.delete(user.sessionId);
      admission.release();
    };
    if (user) {
      expiry = setTimeout(stopWith("the access token expired; reconnect with a fresh one"), Math.max(0, user.expiresAtMs - Date.now()));
      watchRevocations();
      let set = onRevoked.get(user.sessionId);
      if (!set) onRevoked.set(user.sessionId, (set = new Set()));
      set.add(revoked);
    }
    return new ReadableStream<Uint8Array>({
      start(controller) {
        // Not awaited: Bun sends the response headers only once start() has resolved.
        void pump(controller);
      },
      cancel() {
        cleanup();
        abort.abort();
      },
    });

    async function pump(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
      if (heartbeat) timer = setInterval(() => controller.enqueue(heartbeat), heartbeatMs);
      try {
        for await (const m of await open(ctx, routed, request, abort.signal, user)) controller.enqueue(frame(m));
        const tail = end();
        if (tail) controller.enqueue(tail);
      } catch (err) {
        // Aborted by us (expiry, revocation): tell the client why. By the client: nothing to say.
        const reason = abort.signal.aborted ? abort.signal.reason : err;
        if (!abort.signal.aborted || reason instanceof ConnectError) {
          const tail = end(ConnectError.from(reason));
          if (tail) controller.enqueue(tail);
        }
      } finally {
        cleanup();
        try {
          controller.close();
        } catch {
          // already closed by the client going away
        }
      }
    }
  }

  const connectStream: EdgeRoute = (ctx) => {
    const routed = deps.registry.public(ctx.url.pathname);
    return !routed || routed.method.methodKind !== "server_streaming" ? undefined : streamed(ctx, routed);
  };
  const streamed = async (ctx: RequestContext, routed: RoutedMethod): Promise<Routed> => {
    const type = (ctx.req.headers.get("content-type") ?? "").split(";")[0]!.trim();
    if (ctx.req.method !== "POST" || type !== "application/connect+json") {
      return { reply: errorReply(new ConnectError("use POST with application/connect+json for streams", Code.InvalidArgument)), route: routed.path };
    }
    try {
      const body = await readBody(ctx.req, deps.config.maxBodyBytes);
      if (body.byteLength < 5 || body[0] !== 0) throw new ConnectError("expected one enveloped request message", Code.InvalidArgument);
      const len = new DataView(body.buffer, body.byteOffset).getUint32(1);
      const request = decodeJson(routed.method.input as DescMessage, body.subarray(5, 5 + len));
      const admission = await admit(ctx, routed);
      const stream = relay(
        ctx,
        routed,
        request,
        admission,
        (m) => envelope(0, encodeJson(routed.method.output as DescMessage, m)),
        (err) => envelope(2, JSON.stringify(err ? { error: errorToJson(err, undefined) } : {})),
      );
      return { reply: { status: 200, headers: { "content-type": "application/connect+json" }, body: stream }, route: routed.path };
    } catch (err) {
      return { reply: errorReply(err), route: routed.path };
    }
  };

  const eventStream: EdgeRoute = (ctx) => {
    const rpcPath = sse[ctx.url.pathname];
    if (!rpcPath || ctx.req.method !== "GET") return undefined;
    const routed = deps.registry.public(rpcPath);
    return routed ? evented(ctx, routed) : undefined;
  };
  const evented = async (ctx: RequestContext, routed: RoutedMethod): Promise<Routed> => {
    try {
      // Authenticate before answering 200: errors must still be plain JSON replies.
      const request = decodeJson(routed.method.input as DescMessage, encoder.encode("{}"));
      const admission = await admit(ctx, routed);
      const stream = relay(
        ctx,
        routed,
        request,
        admission,
        (m) => encoder.encode(`data: ${encodeJson(routed.method.output as DescMessage, m)}\n\n`),
        (err) => (err ? encoder.encode(`event: error\ndata: ${JSON.stringify(errorToJson(err, undefined))}\n\n`) : undefined),
        encoder.encode(": keepalive\n\n"),
      );
      const headers = { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-accel-buffering": "no" };
      return { reply: { status: 200, headers, body: stream }, route: ctx.url.pathname };
    } catch (err) {
      return { reply: errorReply(err), route: ctx.url.pathname };
    }
  };

  return [connectStream, eventStream];
}
