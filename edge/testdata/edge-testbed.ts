/**
 * A real edge (in this process, on a free port) in front of a real Connect service
 * built from the test-only contract (edge/testdata/proto): `EdgeTestService/Wait`
 * answers after a delay the test chooses, or fails with `unavailable`, and logs every
 * call it receives with the deadline and request id it was given. Deadline, retry and
 * HTTP tests need an upstream whose timing they control; no Oasis service has a slow
 * path, and none should grow one for tests.
 */
import type { DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, type HandlerContext } from "@connectrpc/connect";
import type { Env } from "#kit/config.ts";
import { createLogger } from "#kit/logger.ts";
import { generateMeshKeys, meshIdentityFrom } from "#kit/mesh-keys.ts";
import { bind, createRpcServer, type RpcServer } from "#kit/server.ts";
import { cleanupNamespace, testNamespace } from "#kit/testing/namespace.ts";
import { createEdgeApp, type EdgeApp } from "../app.ts";
import { loadEdgeConfig } from "../config.ts";
import { compileEdgeTestService } from "./compile.ts";

/** What the upstream saw of one call. */
export interface WaitCall {
  readonly tag: string;
  /** The `connect-timeout-ms` the edge sent, as a number (NaN if absent). */
  readonly timeoutMs: number;
  readonly requestId: string | null;
  readonly startedAtMs: number;
  /** When the call's signal aborted (client went away or deadline), if it did. */
  abortedAtMs?: number;
}

export interface EdgeTestbed {
  /** http://127.0.0.1:<port> of the edge. */
  readonly edge: string;
  /** http://127.0.0.1:<admin port> of the edge, serving /metrics. */
  readonly edgeMetrics: string;
  /** The env with the mesh keys, "edgetest" included (to sign calls to the upstream). */
  readonly env: Env;
  /** The upstream's port (on 127.0.0.1). */
  readonly upstreamPort: number;
  /** The test-only service the upstream serves. */
  readonly service: DescService;
  readonly edgeApp: EdgeApp;
  /** Calls the upstream received, in order. */
  readonly calls: WaitCall[];
  /** `/oasis.edgetest.v1.EdgeTestService/Wait`. */
  readonly waitPath: string;
  /** Stops the upstream only (readiness tests); `stop` still cleans up. */
  stopUpstream(): Promise<void>;
  stop(): Promise<void>;
}

interface WaitRequest {
  delayMs: number;
  failUnavailable: boolean;
  tag: string;
  replyBytes: number;
}

/**
 * Starts the upstream and the edge; `env` adds edge settings (e.g. OASIS_EDGE_MAX_TIMEOUT_MS);
 * `upstreamTarget` names the upstream for the edge (default `http://127.0.0.1:<port>`).
 */
export async function startEdgeTestbed(env: Env = {}, upstreamTarget = (port: number) => `http://127.0.0.1:${port}`): Promise<EdgeTestbed> {
  const service: DescService = compileEdgeTestService();
  const namespace = testNamespace();
  const calls: WaitCall[] = [];
  const log = createLogger("edgetest", process.env.OASIS_LOG_LEVEL ?? "warn");
  const impl = {
    async wait(req: WaitRequest, ctx: HandlerContext) {
      const call: WaitCall = {
        tag: req.tag,
        timeoutMs: Number(ctx.requestHeader.get("connect-timeout-ms") ?? Number.NaN),
        requestId: ctx.requestHeader.get("x-request-id"),
        startedAtMs: Date.now(),
      };
      calls.push(call);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, req.delayMs);
        ctx.signal.addEventListener(
          "abort",
          () => {
            call.abortedAtMs = Date.now();
            clearTimeout(timer);
            resolve();
          },
          { once: true },
        );
      });
      if (ctx.signal.aborted) throw new ConnectError("call aborted", Code.Canceled);
      if (req.failUnavailable) throw new ConnectError("replica going away", Code.Unavailable);
      return { payload: "x".repeat(req.replyBytes) };
    },
  };
  // The test upstream is one more mesh process: its own key, its public key known to the edge.
  const keyed = { ...process.env, ...generateMeshKeys(["edgetest"], process.env) };
  const base = loadEdgeConfig({ ...keyed, OASIS_LOG_LEVEL: "warn", ...env, OASIS_NAMESPACE: namespace, OASIS_HOST: "127.0.0.1", OASIS_EDGE_PORT: "0", OASIS_EDGE_METRICS_PORT: "0" });
  const upstream: RpcServer = createRpcServer({
    name: "edgetest",
    host: "127.0.0.1",
    port: 0,
    log,
    mesh: meshIdentityFrom(keyed, "edgetest"),
    bindings: [bind(service, impl as never)],
    drainTimeoutMs: 100,
  });
  const upstreamPort = await upstream.start();
  const config = { ...base, upstreams: { edgetest: [upstreamTarget(upstreamPort)] } };
  const edgeApp = createEdgeApp(config, () => [], [service]);
  const port = await edgeApp.start();
  return {
    edge: `http://127.0.0.1:${port}`,
    edgeMetrics: `http://127.0.0.1:${edgeApp.metricsPort()}`,
    env: keyed,
    upstreamPort,
    service,
    edgeApp,
    calls,
    waitPath: `/${service.typeName}/Wait`,
    stopUpstream: () => upstream.stop(),
    async stop() {
      await edgeApp.stop();
      await upstream.stop();
      await cleanupNamespace(namespace);
    },
  };
}
