/**
 * Prometheus metrics (prom-client), one registry per process so several services can
 * run in one test process without clashing. RPC metrics follow the names of the
 * go-grpc-prometheus convention so standard dashboards work.
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { Code, ConnectError, type Interceptor } from "@connectrpc/connect";

export interface RpcMetrics {
  readonly registry: Registry;
  readonly interceptor: Interceptor;
}

/** A process registry with the service label and Node/Bun process metrics. */
export function createRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** Code as the lower_snake name gRPC tooling shows (`not_found`). */
export function codeName(code: Code | undefined): string {
  if (code === undefined) return "ok";
  return Code[code]!.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

/**
 * Counts and times every RPC by service, method and code. Latency buckets in seconds,
 * from 0.5 ms to 10 s: most mesh calls are sub-millisecond to tens of milliseconds.
 */
export function createRpcMetrics(service: string, registry: Registry = createRegistry(service)): RpcMetrics {
  const handled = new Counter({
    name: "grpc_server_handled_total",
    help: "RPCs completed on the server, by method and code.",
    labelNames: ["grpc_service", "grpc_method", "grpc_code"],
    registers: [registry],
  });
  const latency = new Histogram({
    name: "grpc_server_handling_seconds",
    help: "RPC handling latency on the server, seconds.",
    labelNames: ["grpc_service", "grpc_method", "grpc_code"],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [registry],
  });
  const interceptor: Interceptor = (next) => async (req) => {
    const start = performance.now();
    const labels = { grpc_service: req.service.typeName, grpc_method: req.method.name, grpc_code: "ok" };
    try {
      return await next(req);
    } catch (err) {
      labels.grpc_code = codeName(ConnectError.from(err).code);
      throw err;
    } finally {
      handled.inc(labels);
      latency.observe(labels, (performance.now() - start) / 1000);
    }
  };
  return { registry, interceptor };
}
