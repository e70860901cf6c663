/**
 * The edge: the only door the app uses. Bun.serve (HTTP/1.1; the fastest server on Bun)
 * takes JSON from the app and calls services over the mesh (Connect, binary, HTTP/2).
 *
 * Per request: request id (kept from `x-request-id` if well-formed) and W3C trace
 * context; route lookup; bearer token check against the method's access level; body
 * size limit; decode (bad input never reaches a service); upstream call with a capped
 * deadline; JSON errors `{code, message, details}` with the matching HTTP status.
 */
import { Code, ConnectError } from "@connectrpc/connect";
import { Health } from "#gen/grpc/health/v1/health_pb.ts";
import { formatTraceparent, newRequestId, newSpanId, newTraceId, parseTraceparent } from "#kit/call-context.ts";
import type { EdgeConfig } from "./config.ts";
import { connectResponse, decodeConnectRequest, requestTimeoutMs, requireAccess } from "./connect-handler.ts";
import { createTokenVerifier, type TokenVerifier } from "./auth.ts";
import { errorResponse } from "./http-errors.ts";
import { createEdgeMetrics, type EdgeMetrics } from "./metrics.ts";
import { MethodRegistry } from "./registry.ts";
import { edgeServices } from "./services.ts";
import { Upstreams } from "./upstream.ts";

export interface EdgeApp {
  readonly metrics: EdgeMetrics;
  /** Starts listening; resolves to the bound port. */
  start(): Promise<number>;
  stop(): Promise<void>;
}

const requestIdPattern = /^[A-Za-z0-9._:-]{1,64}$/;

export interface EdgeDeps {
  readonly config: EdgeConfig;
  readonly registry: MethodRegistry;
  readonly verifier: TokenVerifier;
  readonly upstreams: Upstreams;
}

export function createEdgeApp(config: EdgeConfig): EdgeApp {
  const deps: EdgeDeps = {
    config,
    registry: new MethodRegistry(edgeServices, Object.keys(config.upstreams)),
    verifier: createTokenVerifier({ jwksUrl: config.jwksUrl, issuer: config.issuer, audience: config.audience }),
    upstreams: new Upstreams(config),
  };
  const metrics = createEdgeMetrics();
  const upstreamHealth = new Map<string, boolean>();
  let server: ReturnType<typeof Bun.serve> | undefined;
  let healthTimer: ReturnType<typeof setInterval> | undefined;

  // grpc.health.v1.Health/Check with an empty request ("" = whole server): any non-OK
  // answer (NOT_SERVING is still a 200 with a status, so we decode it) marks a replica down.
  const healthPath = `/${Health.typeName}/${Health.method.check.name}`;
  async function checkUpstreams(): Promise<void> {
    await Promise.all(
      deps.upstreams.names().map(async (name) => {
        const down = await deps.upstreams.probe(name, healthPath, new Uint8Array(0), 1_000);
        const replicas = deps.upstreams.replicas(name).length;
        upstreamHealth.set(name, down.length < replicas);
      }),
    );
  }

  async function handle(req: Request): Promise<{ res: Response; route: string }> {
    const url = new URL(req.url);
    const given = req.headers.get("x-request-id");
    const requestId = given && requestIdPattern.test(given) ? given : newRequestId();
    const base = { "x-request-id": requestId };
    const path = url.pathname;
    if (path === "/healthz") return { res: new Response("ok\n"), route: path };
    if (path === "/readyz") {
      const down = deps.upstreams.names().filter((n) => upstreamHealth.get(n) !== true);
      const ok = down.length === 0;
      return { res: new Response(ok ? "ready\n" : `not ready: ${down.join(", ")}\n`, { status: ok ? 200 : 503 }), route: path };
    }
    if (path === "/metrics") {
      return { res: new Response(await metrics.registry.metrics(), { headers: { "content-type": metrics.registry.contentType } }), route: path };
    }
    const routed = deps.registry.public(path);
    if (!routed) {
      return { res: errorResponse(new ConnectError(`no route for ${req.method} ${path}`, Code.NotFound), base), route: "unmatched" };
    }
    try {
      if (req.method !== "POST" && req.method !== "GET") {
        return {
          res: new Response(JSON.stringify({ code: "unimplemented", message: `method ${req.method} not allowed` }), {
            status: 405,
            headers: { ...base, allow: "POST, GET", "content-type": "application/json" },
          }),
          route: routed.path,
        };
      }
      const user = await deps.verifier.verify(req.headers.get("authorization"));
      requireAccess(routed.access, user?.userId ?? null);
      const call = await decodeConnectRequest(req, url, routed, config.maxBodyBytes);
      const parent = parseTraceparent(req.headers.get("traceparent"));
      const message = await deps.upstreams.unary(routed, call.message, {
        userId: user?.userId ?? null,
        requestId,
        traceparent: formatTraceparent(parent?.traceId ?? newTraceId(), newSpanId()),
        timeoutMs: requestTimeoutMs(req, config.defaultTimeoutMs, config.maxTimeoutMs),

      });
      return { res: connectResponse(call, message, base), route: routed.path };
    } catch (err) {
      return { res: errorResponse(err, base), route: routed.path };
    }
  }

  return {
    metrics,
    async start() {
      await checkUpstreams();
      healthTimer = setInterval(() => void checkUpstreams(), 2_000);
      server = Bun.serve({
        hostname: config.host,
        port: config.port,
        // Bodies are limited per route while reading; this is only the hard ceiling.
        maxRequestBodySize: 64 * 1024 * 1024,
        idleTimeout: 65,
        async fetch(req) {
          const start = performance.now();
          const { res, route } = await handle(req);
          metrics.observe(route, req.method, res.status, (performance.now() - start) / 1000);
          return res;
        },
      });
      return server.port!;
    },
    async stop() {
      if (healthTimer) clearInterval(healthTimer);
      await server?.stop();
      deps.upstreams.close();
    },
  };
}
