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
 */
import type { DescMessage, Message } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { Code, ConnectError } from "@connectrpc/connect";
import { errorToJson } from "@connectrpc/connect/protocol-connect";
import { callerHeader, signCaller } from "#kit/auth.ts";
import { createMeshTransport, type BalancedTransport } from "#kit/client.ts";
import type { EdgeDeps, EdgeRoute } from "./app.ts";
import { readBody } from "./body.ts";
import { requireAccess } from "./connect-handler.ts";
import { errorReply } from "./http-errors.ts";
import { decodeJson, encodeJson } from "./json-codec.ts";
import type { RoutedMethod } from "./registry.ts";
import type { RequestContext } from "./request-context.ts";

const heartbeatMs = 15_000;
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

  /** Opens the upstream stream for a verified caller; yields response messages. */
  async function open(ctx: RequestContext, routed: RoutedMethod, request: Message, signal: AbortSignal) {
    const user = await deps.verifier.verify(ctx.req.headers.get("authorization"));
    requireAccess(routed.access, user?.userId ?? null);
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

  /** A ReadableStream fed by an upstream stream; `frame` renders messages, `end` the close. */
  function relay(
    ctx: RequestContext,
    routed: RoutedMethod,
    request: Message,
    frame: (m: Message) => Uint8Array,
    end: (err?: ConnectError) => Uint8Array | undefined,
    heartbeat?: Uint8Array,
  ): ReadableStream<Uint8Array> {
    const abort = new AbortController();
    let timer: ReturnType<typeof setInterval> | undefined;
    return new ReadableStream<Uint8Array>({
      start(controller) {
        // Not awaited: Bun sends the response headers only once start() has resolved.
        void pump(controller);
      },
      cancel() {
        if (timer) clearInterval(timer);
        abort.abort();
      },
    });

    async function pump(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
        if (heartbeat) timer = setInterval(() => controller.enqueue(heartbeat), heartbeatMs);
        try {
          for await (const m of await open(ctx, routed, request, abort.signal)) controller.enqueue(frame(m));
          const tail = end();
          if (tail) controller.enqueue(tail);
        } catch (err) {
          if (!abort.signal.aborted) {
            const tail = end(ConnectError.from(err));
            if (tail) controller.enqueue(tail);
          }
        } finally {
          if (timer) clearInterval(timer);
          try {
            controller.close();
          } catch {
            // already closed by the client going away
          }
        }
    }
  }

  const connectStream: EdgeRoute = async (ctx) => {
    const routed = deps.registry.public(ctx.url.pathname);
    if (!routed || routed.method.methodKind !== "server_streaming") return undefined;
    const type = (ctx.req.headers.get("content-type") ?? "").split(";")[0]!.trim();
    if (ctx.req.method !== "POST" || type !== "application/connect+json") {
      return { reply: errorReply(new ConnectError("use POST with application/connect+json for streams", Code.InvalidArgument)), route: routed.path };
    }
    try {
      const body = await readBody(ctx.req, deps.config.maxBodyBytes);
      if (body.byteLength < 5 || body[0] !== 0) throw new ConnectError("expected one enveloped request message", Code.InvalidArgument);
      const len = new DataView(body.buffer, body.byteOffset).getUint32(1);
      const request = decodeJson(routed.method.input as DescMessage, body.subarray(5, 5 + len));
      const stream = relay(
        ctx,
        routed,
        request,
        (m) => envelope(0, encodeJson(routed.method.output as DescMessage, m)),
        (err) => envelope(2, JSON.stringify(err ? { error: errorToJson(err, undefined) } : {})),
      );
      return { reply: { status: 200, headers: { "content-type": "application/connect+json" }, body: stream }, route: routed.path };
    } catch (err) {
      return { reply: errorReply(err), route: routed.path };
    }
  };

  const eventStream: EdgeRoute = async (ctx) => {
    const rpcPath = sse[ctx.url.pathname];
    if (!rpcPath || ctx.req.method !== "GET") return undefined;
    const routed = deps.registry.public(rpcPath);
    if (!routed) return undefined;
    try {
      // Authenticate before answering 200: errors must still be plain JSON replies.
      const user = await deps.verifier.verify(ctx.req.headers.get("authorization"));
      requireAccess(routed.access, user?.userId ?? null);
      const request = decodeJson(routed.method.input as DescMessage, encoder.encode("{}"));
      const stream = relay(
        ctx,
        routed,
        request,
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
