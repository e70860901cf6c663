/**
 * The RPC server's request listener (node:http2 and node:http compat API): what
 * connect-node's `connectNodeAdapter` does, with a shorter way in and out for the calls
 * the mesh makes most, Connect-protocol unary calls with a binary body
 * (`POST /<Service>/<Method>`, `content-type: application/proto`, no request
 * compression): the body is gathered from the request's `data` events into one buffer and
 * handed to the method's own Connect universal handler as bytes, and the answer written
 * with one `writeHead` and one `end`. connect-node's adapter instead wraps every request
 * in an async generator, reads it through async iterables, builds a URL object and
 * writes each chunk through a promise with `drain`/`error` listeners. Measured
 * (bench/README.md, "Measured at stop 30", Composes): media's CPU per compose 0.83x,
 * composes 1.06x, the DSB mix 1.18x (design note 52). Everything between (protocol checks, timeouts, interceptors,
 * validation, errors as Connect JSON with their HTTP status, response compression,
 * limits) is Connect's own handler, unchanged. Every other request (gRPC, gRPC-Web,
 * Connect JSON, streams, GET, compressed bodies, unknown paths) goes through
 * connect-node's adapter functions as before.
 *
 * `fast: false` (OASIS_MESH_FAST_UNARY=0) sends every request through the adapter's path.
 */
import { Code, ConnectError, createConnectRouter, type ConnectRouterOptions } from "@connectrpc/connect";
import { createAsyncIterable, type UniversalHandler, type UniversalServerRequest } from "@connectrpc/connect/protocol";
import { universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import type http from "node:http";
import type http2 from "node:http2";

type NodeRequest = http.IncomingMessage | http2.Http2ServerRequest;
type NodeResponse = http.ServerResponse | http2.Http2ServerResponse;

export interface RequestListenerOptions extends ConnectRouterOptions {
  /** Registers the services on the router. */
  readonly routes: (router: ReturnType<typeof createConnectRouter>) => void;
  /** Any path no RPC serves (probes, JWKS, 404). */
  readonly fallback: (req: NodeRequest, res: NodeResponse) => void;
  /** Largest request body accepted, bytes (Connect's readMaxBytes). */
  readonly readMaxBytes: number;
  /** Take the short way for binary Connect unary calls (default true). */
  readonly fast?: boolean;
}

/** A request listener for both node:http and node:http2 servers. */
export function rpcRequestListener(opts: RequestListenerOptions): (req: NodeRequest, res: NodeResponse) => void {
  const router = createConnectRouter(opts);
  opts.routes(router);
  const paths = new Map<string, UniversalHandler>();
  const unary = new Map<string, UniversalHandler>();
  for (const h of router.handlers) {
    paths.set(h.requestPath, h);
    if (h.method.methodKind === "unary") unary.set(h.requestPath, h);
  }
  const fast = opts.fast ?? true;

  /** connect-node's adapter, as connectNodeAdapter runs it. */
  const viaAdapter = (h: UniversalHandler, req: NodeRequest, res: NodeResponse) => {
    const uReq = universalRequestFromNodeRequest(req as never, res as never, undefined, undefined);
    h(uReq)
      .then((uRes) => universalResponseToNodeResponse(uRes, res as never))
      .catch((reason) => {
        if (ConnectError.from(reason).code === Code.Aborted) return;
        console.error(`handler for rpc ${h.method.name} of ${h.service.typeName} failed`, reason);
      });
  };

  return (req, res) => {
    const url = req.url ?? "";
    const headers = req.headers;
    const h = fast && req.method === "POST" && headers["content-type"] === "application/proto" && headers["content-encoding"] === undefined ? unary.get(url) : undefined;
    if (!h) {
      const any = paths.get(url.split("?", 2)[0]!);
      if (any) viaAdapter(any, req, res);
      else opts.fallback(req, res);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const abort = new AbortController();
    let answered = false;
    // A stream reset or a connection closed before the answer cancels the call, as the
    // adapter does (the handler context aborts on the request's signal).
    res.once("close", () => {
      if (!answered) abort.abort(new ConnectError("the client went away", Code.Canceled));
    });
    req.on("data", (c: Buffer) => {
      chunks.push(c);
      size += c.length;
    });
    req.once("error", () => abort.abort(new ConnectError("request stream failed", Code.Canceled)));
    req.once("end", () => {
      const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      const header = new Headers();
      for (const name in headers) {
        if (name.charCodeAt(0) === 58 /* ":" pseudo-header */) continue;
        const v = headers[name];
        if (v === undefined) continue;
        header.set(name, Array.isArray(v) ? v.join(", ") : v);
      }
      const authority = (req as http2.Http2ServerRequest).authority ?? headers.host ?? "localhost";
      const uReq: UniversalServerRequest = {
        httpVersion: req.httpVersion,
        method: "POST",
        url: `http://${authority}${url}`,
        header,
        // Bytes as they are: Connect's unary handler reads a body that is not an iterable
        // as the message's bytes (handler-factory.js readUnaryMessageFromBody). Over the
        // limit: as an iterable, so Connect's own reader refuses it with its error.
        body: size > opts.readMaxBytes ? createAsyncIterable([bytes]) : (bytes as unknown as UniversalServerRequest["body"]),
        signal: abort.signal,
        contextValues: undefined,
      };
      h(uReq)
        .then(async (uRes) => {
          let body: Uint8Array | undefined;
          if (uRes.body) {
            const parts: Uint8Array[] = [];
            for await (const p of uRes.body) parts.push(p);
            body = parts.length === 1 ? parts[0] : Buffer.concat(parts);
          }
          const out: Record<string, string> = {};
          uRes.header?.forEach((v, k) => (out[k] = v));
          answered = true;
          const r = res as http.ServerResponse;
          if (r.destroyed) return;
          r.writeHead(uRes.status, out);
          if (body === undefined) r.end();
          else r.end(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
        })
        .catch((reason) => {
          answered = true;
          if (ConnectError.from(reason).code === Code.Aborted) return;
          console.error(`handler for rpc ${h.method.name} of ${h.service.typeName} failed`, reason);
          const r = res as http.ServerResponse;
          if (!r.headersSent && !r.destroyed) {
            r.writeHead(500);
            r.end();
          }
        });
    });
  };
}
