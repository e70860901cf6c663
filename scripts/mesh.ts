/**
 * `npm run mesh`: starts every service in mesh.config.ts and then the edge, each as its
 * own Bun process, waits until each is ready, restarts any that crashes (with backoff),
 * prefixes their logs, and stops them all cleanly on Ctrl-C (edge first, so no new
 * requests arrive while services drain).
 *
 * Every run makes fresh mesh keys (kit/mesh-keys.ts: one per process, public keys to
 * all), so no key is in the source or outlives the run, and runs in dev mode
 * (OASIS_DEV=1: every port on 127.0.0.1, reflection open for `buf curl`) unless
 * OASIS_DEV is set otherwise. Prometheus metrics are on each process's admin port
 * (port + 1000, e.g. the edge's on 9080).
 *
 * As a module, `startMesh()` is what the demo uses.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { mesh, edgePort } from "../mesh.config.ts";
import { metricsPortOffset } from "../kit/config.ts";
import { generateMeshKeys, meshIdentityFrom, type MeshIdentity } from "../kit/mesh-keys.ts";
import { Supervisor } from "../kit/supervisor.ts";
import { buildBundles, meshEntries } from "../kit/bundle.ts";
import { boolEnv } from "../kit/env.ts";
import { ensureInfra } from "./infra.ts";
import { operatorEnvFile } from "./admin/lib/connection.ts";

const root = join(import.meta.dir, "..");

export interface RunningMesh {
  readonly supervisor: Supervisor;
  readonly edgeUrl: string;
  /** The edge's admin URL, serving /metrics. */
  readonly edgeMetricsUrl: string;
  readonly services: readonly string[];
  /**
   * The run's operator identity: a mesh key of its own (`operator`, known to every
   * process like a service's), for tools of this run that call internal or service-only
   * methods, e.g. the demo's ledger audit. Never the edge's or a service's key.
   */
  readonly operator: MeshIdentity;
  /** A service's URL in this run. */
  url(service: string): string;
  stop(): Promise<void>;
}

function portOf(name: string, fallback: number): number {
  const v = process.env[`OASIS_${name.toUpperCase()}_PORT`];
  return v ? Number(v) : fallback;
}

export async function startMesh(opts: { log?: (line: string) => void } = {}): Promise<RunningMesh> {
  const say = opts.log ?? ((l: string) => console.log(l));
  await ensureInfra(say);
  const supervisor = new Supervisor({ restart: true });
  // Every service of the mesh table that exists in services/ (a checkout may be mid-way).
  const services = mesh.filter((e) => existsSync(join(root, "services", e.name, "main.ts")));
  const env: Record<string, string | undefined> = {
    OASIS_DEV: "1",
    ...process.env,
    ...generateMeshKeys([...services.map((e) => e.name), "edge", "operator"]),
    OASIS_MESH_SERVICES: process.env.OASIS_MESH_SERVICES ?? services.map((e) => e.name).join(","),
  };
  // Identity's key-encryption key: from the environment, else a fresh one per run (keys
  // sealed by an earlier run's KEK are retired at start, and a new one signs).
  env.OASIS_IDENTITY_KEK ??= randomBytes(32).toString("base64");
  // Signed private media URLs (chat images): a fresh key per run unless one is given.
  env.OASIS_MEDIA_URL_KEY ||= randomBytes(32).toString("base64url");
  // Prebuilt bundles (kit/bundle.ts) when asked, unless a parent (scripts/test.ts) built them.
  if (!process.env.OASIS_SERVICE_BUNDLE_DIR && boolEnv(process.env, "OASIS_SERVICE_BUNDLE", false)) {
    const b = await buildBundles(meshEntries(services.map((e) => e.name)));
    process.env.OASIS_SERVICE_BUNDLE_DIR = b.dir;
    say(`service bundles ${b.built ? "built" : "reused"} in ${(b.ms / 1000).toFixed(1)} s`);
  }
  const t0 = performance.now();
  await supervisor.startAll(
    services.map((e) => ({ name: e.name, entry: join(root, "services", e.name, "main.ts"), port: portOf(e.name, e.port), env })),
  );
  const port = portOf("edge", edgePort);
  await supervisor.start({ name: "edge", entry: join(root, "edge", "main.ts"), port, env });
  // The operator's key for `bun run admin` in another terminal: written for this run
  // only (owner-readable), removed when the mesh stops.
  mkdirSync(join(operatorEnvFile, ".."), { recursive: true });
  writeFileSync(
    operatorEnvFile,
    JSON.stringify({
      OASIS_MESH_KEY_OPERATOR: env.OASIS_MESH_KEY_OPERATOR,
      OASIS_MESH_PUBLIC_KEYS: env.OASIS_MESH_PUBLIC_KEYS,
      OASIS_NAMESPACE: env.OASIS_NAMESPACE ?? "",
    }),
    { mode: 0o600 },
  );
  chmodSync(operatorEnvFile, 0o600);
  say(`mesh ready in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${services.map((e) => e.name).join(", ")} + edge`);
  return {
    supervisor,
    edgeUrl: `http://127.0.0.1:${port}`,
    edgeMetricsUrl: `http://127.0.0.1:${process.env.OASIS_EDGE_METRICS_PORT ?? port + metricsPortOffset}`,
    services: services.map((e) => e.name),
    operator: meshIdentityFrom(env, "operator"),
    url: (name) => `http://127.0.0.1:${portOf(name, mesh.find((e) => e.name === name)!.port)}`,
    stop: async () => {
      await supervisor.stopAll(["edge", ...services.map((e) => e.name).reverse()]);
      rmSync(operatorEnvFile, { force: true });
    },
  };
}

if (import.meta.main) {
  const running = await startMesh();
  console.log(`edge:    ${running.edgeUrl}`);
  console.log(`metrics: ${running.edgeMetricsUrl}/metrics`);
  for (const e of mesh.filter((m) => running.services.includes(m.name))) {
    console.log(`${e.name.padEnd(12)} http://127.0.0.1:${portOf(e.name, e.port)} (gRPC, Connect, gRPC-Web)`);
  }
  console.log("Ctrl-C stops everything.");
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log("stopping the mesh...");
    await running.stop();
    process.exit(0);
  };
  process.on("SIGINT", () => void stop());
  process.on("SIGTERM", () => void stop());
}
