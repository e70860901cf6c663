/**
 * A service with two replicas behind one edge, for failover tests and benchmarks:
 * identity twice (same namespace, so the same database) and an edge that balances
 * between them.
 */
import { join } from "node:path";
import { startTestMesh, type TestMesh } from "#kit/testing/mesh.ts";
import { freePort } from "#kit/testing/ports.ts";

const root = join(import.meta.dir, "..");

export interface TwoReplicas {
  readonly mesh: TestMesh;
  readonly edge: string;
  readonly replicas: [string, string];
  /** Admin (metrics) URLs of the edge and of the two replicas. */
  readonly edgeMetrics: string;
  readonly replicaMetrics: [string, string];
  stop(): Promise<void>;
}

export async function startTwoIdentityReplicas(): Promise<TwoReplicas> {
  const mesh = await startTestMesh({ services: ["identity"], env: { OASIS_IDENTITY_PASSWORD_MEMORY_KIB: "1024" } });
  const second = await freePort();
  const secondMetrics = await freePort();
  await mesh.supervisor.start({
    name: "identity-2",
    entry: join(root, "services", "identity", "main.ts"),
    port: second,
    env: { ...mesh.env, OASIS_IDENTITY_PORT: String(second), OASIS_IDENTITY_METRICS_PORT: String(secondMetrics) },
  });
  const replicas: [string, string] = [mesh.url("identity"), `http://127.0.0.1:${second}`];
  const edgePort = await freePort();
  const edgeMetricsPort = await freePort();
  await mesh.supervisor.start({
    name: "edge",
    entry: join(root, "edge", "main.ts"),
    port: edgePort,
    env: { ...mesh.env, OASIS_EDGE_PORT: String(edgePort), OASIS_EDGE_METRICS_PORT: String(edgeMetricsPort), OASIS_IDENTITY_URL: replicas.join(","), OASIS_JWKS_URL: `${replicas[0]}/.well-known/jwks.json` },
  });
  return {
    mesh,
    edge: `http://127.0.0.1:${edgePort}`,
    replicas,
    edgeMetrics: `http://127.0.0.1:${edgeMetricsPort}`,
    replicaMetrics: [mesh.metricsUrl("identity"), `http://127.0.0.1:${secondMetrics}`],
    stop: () => mesh.stop(),
  };
}

/**
 * Polls the edge's metrics (`edgeMetrics`: its admin URL) until `url` is ejected (or, with `ejected` false, admitted
 * again); resolves to the ms it took from `sinceMs`.
 */
export async function waitEjected(edgeMetrics: string, url: string, sinceMs: number, timeoutMs = 10_000, ejected = true): Promise<number> {
  while (performance.now() - sinceMs < timeoutMs) {
    const text = await (await fetch(`${edgeMetrics}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith("edge_upstream_replica_ejected{") && l.includes(`url="${url}"`));
    if (line?.endsWith(ejected ? " 1" : " 0")) return performance.now() - sinceMs;
    await Bun.sleep(20);
  }
  return Number.POSITIVE_INFINITY;
}
