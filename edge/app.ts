/**
 * The edge: the only door the app uses. Bun.serve (HTTP/1.1 and h2c on one port; the
 * fastest HTTP server on Bun) takes JSON from the app and calls services over the mesh.
 *
 * Kill switches (kit/kill-switches.ts) are watched from NATS and applied to every RPC
 * (kill-switch-gate.ts).
 *
 * Per request: CORS preflight; request id and trace context; route: probes, Connect
 * paths (`/<package>.<Service>/<Method>`), then the routes other modules add (REST,
 * media); the RPC steps in rpc-call.ts; then the common response steps: request id and
 * CORS headers, compression of JSON bodies, metrics by route, the access log line
 * (access-log.ts).
 */
import { Code, ConnectError } from "@connectrpc/connect";
import type { DescService } from "@bufbuild/protobuf";
import type { Server } from "bun";
import { Counter, Gauge } from "prom-client";
import { Health } from "#gen/grpc/health/v1/health_pb.ts";
import { createLogger } from "#kit/logger.ts";
import { createRedis, type Redis } from "#kit/redis.ts";
import { connectBus, type Bus } from "#kit/bus.ts";
import { noSwitches, openKillSwitches, type KillSwitches } from "#kit/kill-switches.ts";
import { createTokenVerifier } from "./auth.ts";
import { compressBody } from "./compress.ts";
import { createAccessLog } from "./access-log.ts";
import { endSpan, initTracing, SpanKind, startSpan, traceparentOf } from "#kit/tracing.ts";
import type { EdgeConfig } from "./config.ts";
import { connectReply, decodeConnectRequest } from "./connect-handler.ts";
import { Cors } from "./cors.ts";
import { errorReply } from "./http-errors.ts";
import { createEdgeMetrics, type EdgeMetrics } from "./metrics.ts";
import { RateLimiter } from "./rate-limit.ts";
import { MethodRegistry } from "./registry.ts";
import type { Reply } from "./reply.ts";
import { requestContext, type RequestContext } from "./request-context.ts";
import { createPagePath } from "./page-path.ts";
import { createSearchPagePath } from "./search-page-path.ts";
import { runRpc, type RpcDeps } from "./rpc-call.ts";
import { JsonReuse } from "./json-reuse.ts";
import { edgeServices } from "./services.ts";
import { Upstreams } from "./upstream.ts";

export interface EdgeApp {
  readonly metrics: EdgeMetrics;
  /** Starts listening; resolves to the bound port. */
  start(): Promise<number>;
  /** The admin port serving /metrics (and the probes), bound by start(). */
  metricsPort(): number;
  stop(): Promise<void>;
}

/**
 * A route handled by another module (REST, media). Returns undefined when it does not
 * match, at once (no promise) where it can tell from the request line alone, so the
 * routes before the one that answers cost no promise each (design note 62).
 */
export type EdgeRoute = (ctx: RequestContext) => Routed | undefined | Promise<Routed | undefined>;

/** A route's answer and its label. */
export type Routed = { reply: Reply; route: string };

export interface EdgeDeps extends RpcDeps {
  readonly registry: MethodRegistry;
  readonly redis: Redis;
}

/**
 * Builds the edge. `services` are the contracts it routes (default: every Oasis service);
 * tests pass a test-only contract to put a real edge in front of a purpose-built service.
 */
export function createEdgeApp(
  config: EdgeConfig,
  extraRoutes: (deps: EdgeDeps) => EdgeRoute[] = () => [],
  services: readonly DescService[] = edgeServices,
): EdgeApp {
  const log = createLogger("edge", config.logLevel);
  const stopTracing = initTracing("edge", config);
  const redisCalls = new Counter({ name: "edge_redis_calls_total", help: "Redis round trips made by the edge (rate limiting).", registers: [] });
  const redis = createRedis({ url: config.redisUrl, keyPrefix: config.redisKeyPrefix, log });
  // The kill switches, watched from NATS once started (none before: nothing is served then).
  let bus: Bus | undefined;
  let killSwitches: KillSwitches | undefined;
  const metrics = createEdgeMetrics(config.metricsEventLoopMs);
  const registry = new MethodRegistry(services, Object.keys(config.upstreams));
  const upstreams = new Upstreams(config, (target, err) => log.warn({ err, target }, "upstream DNS lookup failed; keeping the last addresses"));
  // Timeline pages from the feed's Redis (page-path.ts); the RPC goes to the feed on a miss.
  const pagePath = config.pagePath
    ? createPagePath({ url: config.feedRedisUrl, prefix: config.feedRedisPrefix, log, registry: metrics.registry, upstreams, routes: registry, reuseEntries: config.pageReuseEntries, itemEntries: config.pageItemEntries, tracking: config.pageTracking, tightWindow: config.pageTightWindow, held: config.pageHeldEntries, watchedKeys: config.pageWatchedKeys, relSets: config.relSets, relSetMax: config.relSetMax, amendSets: config.relSetAmend, relWriteOneTrip: config.relWriteOneTrip, fillCounts: config.pageFillCounts, autoPipelining: config.pageAutoPipelining, coalesceWrites: config.pageCoalesce, splice: config.pageSplice, limitInScript: config.pageLimitInScript && config.feedRedisUrl === config.redisUrl })
    : undefined;
  // Anonymous searches from the pages search stored in its Redis (search-page-path.ts).
  const searchPagePath = config.searchPagePath && config.upstreams.search?.length
    ? createSearchPagePath({ url: config.searchRedisUrl, prefix: config.searchRedisPrefix, log, registry: metrics.registry })
    : undefined;
  const deps: EdgeDeps = {
    config,
    pagePath,
    searchPagePath,
    redis,
    switches: () => killSwitches?.state() ?? noSwitches,
    registry,
    verifier: createTokenVerifier({ jwksUrl: config.jwksUrl, issuer: config.issuer, audience: config.audience, jwksCooldownMs: config.jwksCooldownMs }),
    upstreams,
    limiter: new RateLimiter({ redis, onCall: () => redisCalls.inc() }),
    jsonReuse: new JsonReuse(config.jsonReuseEntries),
  };
  const routes = extraRoutes(deps);
  const cors = new Cors(config.corsOrigins);
  const accessLog = createAccessLog(log, { ratePerSecond: config.accessLogRate, sampleShare: config.accessLogSample });
  metrics.registry.registerMetric(redisCalls);
  new Gauge({
    name: "edge_upstream_replica_ejected",
    help: "1 while the edge skips an upstream replica after failures (kit/replicas.ts), else 0.",
    labelNames: ["upstream", "url"],
    registers: [metrics.registry],
    collect() {
      // Replicas come and go with DNS discovery: report only the current ones.
      this.reset();
      for (const name of deps.upstreams.names()) {
        for (const r of deps.upstreams.replicas(name)) this.set({ upstream: name, url: r.url }, r.ejected ? 1 : 0);
      }
    },
  });
  const upstreamHealth = new Map<string, boolean>();
  let server: Server<undefined> | undefined;
  // /metrics lives on its own admin port: the edge's port is the internet's.
  let admin: Server<undefined> | undefined;
  let healthTimer: ReturnType<typeof setInterval> | undefined;

  // grpc.health.v1.Health/Check with an empty request (the whole server) on every
  // replica: a failure ejects that replica (kit/replicas.ts) until it answers again.
  const healthPath = `/${Health.typeName}/${Health.method.check.name}`;
  async function checkUpstreams(): Promise<void> {
    await Promise.all(
      deps.upstreams.names().map(async (name) => {
        const down = await deps.upstreams.probe(name, healthPath, new Uint8Array(0), 1_000);
        upstreamHealth.set(name, down.length < deps.upstreams.replicas(name).length);
      }),
    );
  }

  async function route(ctx: RequestContext): Promise<{ reply: Reply; route: string }> {
    const path = ctx.url.pathname;
    if (path === "/healthz") return { reply: { status: 200, headers: {}, body: "ok\n" }, route: path };
    if (path === "/readyz") {
      const down = deps.upstreams.names().filter((n) => upstreamHealth.get(n) !== true);
      const body = down.length ? `not ready: ${down.join(", ")}\n` : "ready\n";
      return { reply: { status: down.length ? 503 : 200, headers: {}, body }, route: path };
    }
    const routed = deps.registry.public(path);
    if (routed && routed.method.methodKind === "unary") {
      if (ctx.req.method !== "POST" && ctx.req.method !== "GET") {
        const reply = errorReply(new ConnectError(`method ${ctx.req.method} not allowed`, Code.Unimplemented), { allow: "POST, GET" }, 405);
        return { reply, route: routed.path };
      }
      let encoding: "json" | "proto" = "json";
      const reply = await runRpc(
        deps,
        ctx,
        routed,
        async () => {
          const call = await decodeConnectRequest(ctx.req, ctx.url, routed, config.maxBodyBytes);
          encoding = call.encoding;
          return call.message;
        },
        (answer, headers) => connectReply({ routed, encoding }, answer, headers, deps.jsonReuse),
      );
      return { reply, route: routed.path };
    }
    for (const r of routes) {
      // A route that does not match says so without a promise (design note 62).
      const got = r(ctx);
      const out = got instanceof Promise ? await got : got;
      if (out) return out;
    }
    return { reply: errorReply(new ConnectError(`no route for ${ctx.req.method} ${path}`, Code.NotFound)), route: "unmatched" };
  }

  function respond(ctx: RequestContext, reply: Reply): Response {
    const headers: Record<string, string> = { ...reply.headers, "x-request-id": ctx.requestId, ...cors.headers(ctx.req.headers.get("origin")) };
    let body = reply.body;
    if (reply.compressible && (typeof body === "string" || body instanceof Uint8Array)) {
      const c = compressBody(body, ctx.req.headers.get("accept-encoding"));
      body = c.body;
      if (c.encoding) {
        headers["content-encoding"] = c.encoding;
        headers.vary = headers.vary ? `${headers.vary}, Accept-Encoding` : "Accept-Encoding";
      }
    }
    return new Response(body as ConstructorParameters<typeof Response>[0], { status: reply.status, headers });
  }

  return {
    metrics,
    metricsPort: () => admin?.port ?? 0,
    async start() {
      admin = Bun.serve({
        hostname: config.host,
        port: config.metricsPort,
        async fetch(req) {
          const path = new URL(req.url).pathname;
          if (path === "/metrics") return new Response(await metrics.registry.metrics(), { headers: { "content-type": metrics.registry.contentType } });
          if (path === "/healthz" || path === "/readyz") {
            const out = await route(requestContext(req, "admin", 0));
            return new Response(out.reply.body as string, { status: out.reply.status });
          }
          return new Response("not found\n", { status: 404 });
        },
      });
      bus = await connectBus({ url: config.natsUrl, namespace: config.namespace, name: "edge", log });
      killSwitches = await openKillSwitches(bus, log);
      await deps.limiter.start();
      await deps.upstreams.startDiscovery();
      await checkUpstreams();
      healthTimer = setInterval(() => void checkUpstreams(), 2_000);
      server = Bun.serve({
        hostname: config.host,
        port: config.port,
        http2: true,
        // Bodies are limited per route while reading; this is only the hard ceiling.
        maxRequestBodySize: 64 * 1024 * 1024,
        // Longer than common load-balancer idle timeouts (60 s), see kit/server.ts.
        idleTimeout: 65,
        async fetch(req, srv) {
          const start = performance.now();
          if (req.method === "OPTIONS" && req.headers.has("access-control-request-method")) {
            return cors.preflight(req.headers.get("origin"));
          }
          const span = startSpan(req.method, SpanKind.SERVER, req.headers.get("traceparent"), { "http.request.method": req.method });
          const ctx = requestContext(req, srv.requestIP(req)?.address ?? "unknown", config.trustedProxies, traceparentOf(span));
          let out: { reply: Reply; route: string };
          try {
            out = await route(ctx);
          } catch (err) {
            log.error({ err, request_id: ctx.requestId }, "unexpected edge error");
            out = { reply: errorReply(new ConnectError("internal error", Code.Internal)), route: "error" };
          }
          const ms = performance.now() - start;
          // REST routes are labelled "POST /v1/posts" already; Connect paths are not.
          span.updateName(out.route.startsWith(`${req.method} `) ? out.route : `${req.method} ${out.route}`);
          span.setAttributes({ "http.route": out.route, "http.response.status_code": out.reply.status, "oasis.request_id": ctx.requestId });
          endSpan(span, out.reply.status >= 500 ? new Error(`HTTP ${out.reply.status}`) : undefined);
          metrics.observe(out.route, req.method, out.reply.status, ms / 1000);
          // Probes (load balancers, kubelets) are not requests anyone needs a line for.
          if (out.route !== "/healthz" && out.route !== "/readyz") accessLog.write({
            route: out.route,
            method: req.method,
            status: out.reply.status,
            durationMs: ms,
            user: ctx.facts.user,
            requestId: ctx.requestId,
            traceId: ctx.traceparent.split("-")[1] ?? "",
            upstream: ctx.facts.upstream,
          });
          return respond(ctx, out.reply);
        },
      });
      return server.port!;
    },
    async stop() {
      if (healthTimer) clearInterval(healthTimer);
      deps.limiter.stop();
      await server?.stop();
      await admin?.stop(true);
      deps.upstreams.close();
      redis.disconnect();
      pagePath?.close();
      searchPagePath?.close();
      await killSwitches?.close();
      await bus?.close();
      await stopTracing();
    },
  };
}
