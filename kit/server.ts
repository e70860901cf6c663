/**
 * One port, every protocol: Connect (JSON and binary), gRPC and gRPC-Web over HTTP/2
 * cleartext (h2c, prior knowledge) and over HTTP/1.1, plus `/healthz`, `/readyz`,
 * grpc.health.v1 and gRPC reflection v1 (mesh callers only, except in dev mode).
 * Prometheus `/metrics` is served on a separate admin port (`metricsPort`, with the
 * probes again), which only the cluster's monitoring may reach (deploy/ NetworkPolicy):
 * the service port is reachable by the edge and other services, and what a process
 * counts is not theirs to read.
 *
 * Why a sniffing `net` server in front: Bun's `http2.createServer({ allowHTTP1 })` does
 * not fall back to HTTP/1.1 on cleartext (curl gets HTTP/2 frames back), and
 * Kubernetes HTTP probes, Prometheus and curl speak HTTP/1.1. So each connection's
 * first bytes decide: the HTTP/2 client preface ("PRI * HTTP/2.0") goes to a
 * `node:http2` server, anything else to a `node:http` server; both share one
 * request listener (kit/fast-unary.ts: connect-node's adapter, with a short way for
 * binary Connect unary calls). (Bun.serve cannot send HTTP trailers, so it cannot
 * serve gRPC; that is why services use node:http2 at all.)
 *
 * Interceptor order, outermost first: metrics -> call context (request id, trace,
 * caller) -> error mapping -> access check -> the service's role check (`authorize`, for
 * ACCESS_ADMIN/ACCESS_MODERATOR methods) -> kill switches -> protovalidate -> extra
 * -> handler.
 *
 * Shutdown drains: health turns NOT_SERVING (readyz 503, Watch streams see it), the
 * listener closes, unary calls in flight get up to `drainTimeoutMs` to finish, then
 * streams are aborted and connections closed.
 */
import http from "node:http";
import http2 from "node:http2";
import net from "node:net";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Access, methodAccess } from "./auth.ts";
import { type ConnectRouter, type Interceptor, type ServiceImpl } from "@connectrpc/connect";
import { compressionBrotli, compressionGzip, type ConnectNodeAdapterOptions } from "@connectrpc/connect-node";
import { rpcRequestListener } from "./fast-unary.ts";

type NodeHandlerArgs = Parameters<NonNullable<ConnectNodeAdapterOptions["fallback"]>>;
/** The request/response pair connect-node hands to handlers, on HTTP/1.1 or HTTP/2. */
export type NodeServerRequest = NodeHandlerArgs[0];
export type NodeServerResponse = NodeHandlerArgs[1];
import { Health } from "#gen/grpc/health/v1/health_pb.ts";
import { ServerReflection } from "#gen/grpc/reflection/v1/reflection_pb.ts";
import { callContextInterceptor, accessInterceptor, killSwitchInterceptor } from "./server-interceptors.ts";
import type { KillSwitchState } from "./kill-switches.ts";
import { errorInterceptor } from "./errors.ts";
import { HealthState, ServingStatus, healthService } from "./health.ts";
import type { Logger } from "./logger.ts";
import { createRpcMetrics, type RpcMetrics } from "./metrics.ts";
import type { MeshIdentity } from "./mesh-keys.ts";
import type { Registry } from "prom-client";
import { reflectionService } from "./reflection.ts";
import { validationInterceptor } from "./validate.ts";

/** A Protobuf service and its implementation (make one with `bind`). */
export interface ServiceBinding {
  readonly desc: DescService;
  readonly register: (router: ConnectRouter) => void;
}

/** Pairs a service descriptor with its (type-checked) implementation. */
export function bind<S extends DescService>(desc: S, impl: Partial<ServiceImpl<S>>): ServiceBinding {
  return { desc, register: (router) => router.service(desc, impl) };
}

/** Handles a non-RPC HTTP path (e.g. JWKS); return false to fall through to 404. */
export type HttpFallback = (req: NodeServerRequest, res: NodeServerResponse) => boolean;

/** Writes a complete plain response on either HTTP version. */
export function sendHttp(res: NodeServerResponse, status: number, headers: Record<string, string>, body: string | Uint8Array): void {
  const r = res as unknown as http.ServerResponse;
  r.writeHead(status, headers);
  r.end(body);
}

export interface RpcServerOptions {
  /** Name for logs and the `service` metrics label. */
  readonly name: string;
  readonly host: string;
  /** 0 picks a free port; `start()` returns the one bound. */
  readonly port: number;
  readonly log: Logger;
  /** This process's mesh identity; its name is the audience assertions must name. */
  readonly mesh: MeshIdentity;
  /**
   * Admin port for `/metrics`, `/healthz` and `/readyz` (0 picks a free one); omitted:
   * no admin listener (test upstreams).
   */
  readonly metricsPort?: number;
  readonly bindings: readonly ServiceBinding[];
  /** The kill switches to apply (kit/kill-switches.ts); omitted: none (test upstreams). */
  readonly killSwitches?: () => KillSwitchState;
  /** Extra server interceptors, innermost (after validation). */
  readonly interceptors?: readonly Interceptor[];
  /**
   * The service's own check of a role-gated method (ACCESS_ADMIN, ACCESS_MODERATOR),
   * run after the kit's access check and before validation, so a caller without the
   * role is refused whatever the request holds (the assertion carries no roles; the
   * service knows where they are kept). Throws to refuse.
   */
  readonly authorize?: (level: Access, method: DescMethod) => Promise<void>;
  /** Checked by /readyz besides health; e.g. "database answers". */
  readonly ready?: () => Promise<boolean>;
  readonly httpFallback?: HttpFallback;
  /** Registry for the RPC metrics (the runtime's, so services add their own metrics to it). */
  readonly registry?: Registry;
  /** Largest request message accepted, bytes. Default 4 MiB. */
  readonly readMaxBytes?: number;
  /** Grace period for in-flight calls on stop, ms. */
  readonly drainTimeoutMs: number;
  /**
   * An HTTP/2 connection with no stream for this long is closed, ms. Clients ping every
   * 30 s (kit/client.ts), so only abandoned connections hit it. Default 5 min.
   */
  readonly idleTimeoutMs?: number;
  /**
   * Binary Connect unary calls skip connect-node's adapter (kit/fast-unary.ts); default
   * true (OASIS_MESH_FAST_UNARY, kit/config.ts).
   */
  readonly fastUnary?: boolean;
}

export interface RpcServer {
  readonly health: HealthState;
  readonly metrics: RpcMetrics;
  /** Binds the port and marks every service SERVING. Resolves to the bound port. */
  start(): Promise<number>;
  /** The admin port bound by start(), or undefined without one. */
  metricsPort(): number | undefined;
  /** Drains and closes. Safe to call twice. */
  stop(): Promise<void>;
}

/** HTTP/2 connection preface, RFC 9113 section 3.4. */
const h2Preface = "PRI * HTTP/2.0";

export function createRpcServer(opts: RpcServerOptions): RpcServer {
  const metrics = createRpcMetrics(opts.name, opts.registry);
  const health = new HealthState(opts.bindings.map((b) => b.desc.typeName));
  const shutdown = new AbortController();
  let unaryInFlight = 0;
  let drained: (() => void) | undefined;
  const inFlightInterceptor: Interceptor = (next) => async (req) => {
    if (req.stream) return next(req);
    unaryInFlight++;
    try {
      return await next(req);
    } finally {
      unaryInFlight--;
      if (unaryInFlight === 0) drained?.();
    }
  };
  // Metrics outside the call context so calls refused for a bad mesh credential are
  // counted; the error mapping inside it, so its log lines carry the request id.
  const interceptors: Interceptor[] = [
    inFlightInterceptor,
    metrics.interceptor,
    callContextInterceptor(opts.mesh),
    errorInterceptor(opts.log),
    accessInterceptor({ openReflection: opts.mesh.dev }),
    ...(opts.authorize ? [roleInterceptor(opts.authorize)] : []),
    ...(opts.killSwitches ? [killSwitchInterceptor(opts.killSwitches)] : []),
    validationInterceptor,
    ...(opts.interceptors ?? []),
  ];

  const probe = (res: NodeServerResponse, ok: boolean, body: string) =>
    sendHttp(res, ok ? 200 : 503, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" }, body);
  /** Answers /healthz and /readyz; false for any other path. */
  const probes = (req: NodeServerRequest, res: NodeServerResponse): boolean => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/healthz") {
      probe(res, true, "ok\n");
      return true;
    }
    if (path !== "/readyz") return false;
    const serving = health.get("") === ServingStatus.SERVING;
    void (async () => {
      let ok = serving;
      if (ok && opts.ready) ok = await opts.ready().catch(() => false);
      probe(res, ok, ok ? "ready\n" : "not ready\n");
    })();
    return true;
  };
  const admin =
    opts.metricsPort === undefined
      ? undefined
      : http.createServer((req, res) => {
          if (probes(req, res)) return;
          if ((req.url ?? "/").split("?")[0] === "/metrics") {
            void metrics.registry.metrics().then((text) => sendHttp(res, 200, { "content-type": metrics.registry.contentType }, text));
            return;
          }
          sendHttp(res, 404, { "content-type": "text/plain; charset=utf-8" }, "not found\n");
        });
  let adminPort: number | undefined;

  const handler = rpcRequestListener({
    interceptors,
    acceptCompression: [compressionGzip, compressionBrotli],
    // Small messages cost more to compress than to send on a LAN.
    compressMinBytes: 1024,
    readMaxBytes: opts.readMaxBytes ?? 4 * 1024 * 1024,
    // Cap what clients may ask for so a stuck call cannot pin resources for hours.
    maxTimeoutMs: 60_000,
    shutdownSignal: shutdown.signal,
    fast: opts.fastUnary,
    routes(router: ConnectRouter) {
      for (const b of opts.bindings) b.register(router);
      router.service(Health, healthService(health));
      router.service(ServerReflection, reflectionService(opts.bindings.map((b) => b.desc).concat([Health])));
    },
    fallback(req, res) {
      if (probes(req, res)) return;
      if (opts.httpFallback?.(req, res)) return;
      sendHttp(res, 404, { "content-type": "text/plain; charset=utf-8" }, "not found\n");
    },
  });

  const h2 = http2.createServer({}, handler);
  h2.setTimeout(opts.idleTimeoutMs ?? 300_000, () => {});
  const h1 = http.createServer(handler);
  // Longer than common load-balancer idle timeouts (60 s) so the LB closes first and never
  // sends a request onto a socket we are closing.
  h1.keepAliveTimeout = 65_000;
  h1.headersTimeout = 66_000;

  const sockets = new Set<net.Socket>();
  const sessions = new Set<http2.Http2Session>();
  h2.on("session", (s) => {
    sessions.add(s);
    s.on("close", () => sessions.delete(s));
  });
  const listener = net.createServer((sock) => {
    sockets.add(sock);
    sock.on("close", () => sockets.delete(sock));
    sock.setNoDelay(true);
    // A connection that never sends a byte is dropped.
    sock.setTimeout(10_000, () => sock.destroy());
    sock.once("data", (first: Buffer) => {
      sock.setTimeout(0);
      sock.pause();
      sock.unshift(first);
      const isH2 = first.subarray(0, h2Preface.length).toString("latin1") === h2Preface;
      (isH2 ? h2 : h1).emit("connection", sock);
      sock.resume();
    });
    sock.on("error", () => sock.destroy());
  });

  let stopping: Promise<void> | undefined;
  return {
    health,
    metrics,
    metricsPort: () => adminPort,
    async start() {
      if (admin) {
        adminPort = await new Promise<number>((resolve, reject) => {
          admin.once("error", reject);
          admin.listen(opts.metricsPort, opts.host, () => {
            admin.off("error", reject);
            resolve((admin.address() as net.AddressInfo).port);
          });
        });
      }
      return new Promise<number>((resolve, reject) => {
        listener.once("error", reject);
        listener.listen(opts.port, opts.host, () => {
          listener.off("error", reject);
          const addr = listener.address() as net.AddressInfo;
          health.setAll(ServingStatus.SERVING);
          opts.log.info({ port: addr.port, metricsPort: adminPort }, "serving");
          resolve(addr.port);
        });
      });
    },
    stop() {
      stopping ??= (async () => {
        health.setAll(ServingStatus.NOT_SERVING);
        listener.close();
        // GOAWAY on HTTP/2: streams already open finish, new ones go elsewhere.
        for (const s of sessions) s.close();
        h1.closeIdleConnections?.();
        // Requests already on the wire need a moment to reach their handlers and be counted.
        await new Promise((r) => setTimeout(r, 50));
        const deadline = Date.now() + opts.drainTimeoutMs;
        while (unaryInFlight > 0 && Date.now() < deadline) {
          await Promise.race([new Promise<void>((r) => (drained = r)), new Promise((r) => setTimeout(r, 100))]);
        }
        // A handler that returned still has its response to serialize and flush.
        await new Promise((r) => setTimeout(r, 100));
        shutdown.abort();
        for (const s of sockets) s.end();
        await new Promise((r) => setTimeout(r, 50));
        for (const s of sockets) s.destroy();
        h1.close();
        h2.close();
        admin?.close();
        admin?.closeAllConnections?.();
        opts.log.info({ abandoned: unaryInFlight }, "stopped");
      })();
      return stopping;
    },
  };
}

/** Runs `authorize` for methods whose access level needs a role. */
function roleInterceptor(authorize: (level: Access, method: DescMethod) => Promise<void>): Interceptor {
  return (next) => async (req) => {
    const level = methodAccess(req.method);
    if (level === Access.ADMIN || level === Access.MODERATOR) await authorize(level, req.method);
    return next(req);
  };
}
