/**
 * Starts real mesh processes for a test (services and optionally the edge) on free
 * ports in a fresh namespace, exactly as the `mesh` command runs them, and removes
 * everything afterwards.
 */
import "./keys.ts";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { Env } from "../config.ts";
import { Supervisor } from "../supervisor.ts";
import { cleanupNamespace, testNamespace } from "./namespace.ts";
import { freePort } from "./ports.ts";

const root = join(import.meta.dir, "..", "..");

/** The handle a test mesh names as its admin (OASIS_ADMIN_HANDLES); tests sign it up. */
export const testAdminHandle = "oasis_admin";

export interface TestMesh {
  readonly namespace: string;
  /** The env every process got (ports, URLs, namespace). */
  readonly env: Env;
  readonly supervisor: Supervisor;
  /** http://127.0.0.1:<port> of a service, or of "edge". */
  url(name: string): string;
  /** http://127.0.0.1:<admin port> of a service or the edge, serving /metrics. */
  metricsUrl(name: string): string;
  port(name: string): number;
  stop(): Promise<void>;
}

export interface TestMeshOptions {
  readonly services: readonly string[];
  readonly edge?: boolean;
  readonly env?: Env;
  /** Restart crashed processes (default false: tests kill on purpose). */
  readonly restart?: boolean;
  /** Print process output (default: only when OASIS_TEST_VERBOSE is set). */
  readonly verbose?: boolean;
}

export async function startTestMesh(opts: TestMeshOptions): Promise<TestMesh> {
  const namespace = testNamespace();
  const names = [...opts.services, ...(opts.edge ? ["edge"] : [])];
  const ports = new Map<string, number>();
  const metricsPorts = new Map<string, number>();
  for (const n of names) {
    ports.set(n, await freePort());
    metricsPorts.set(n, await freePort());
  }
  const env: Env = {
    ...process.env,
    OASIS_LOG_LEVEL: process.env.OASIS_LOG_LEVEL ?? "warn",
    // Identity's key-encryption key and first admin: generated per run, never a default.
    OASIS_IDENTITY_KEK: randomBytes(32).toString("base64"),
    OASIS_ADMIN_HANDLES: testAdminHandle,
    // A fresh key per test mesh for signed private media URLs (no default exists).
    OASIS_MEDIA_URL_KEY: randomBytes(32).toString("base64url"),
    ...opts.env,
    OASIS_NAMESPACE: namespace,
    OASIS_MESH_SERVICES: opts.services.join(","),
  };
  for (const [n, p] of ports) {
    env[`OASIS_${n.toUpperCase()}_PORT`] = String(p);
    env[`OASIS_${n.toUpperCase()}_METRICS_PORT`] = String(metricsPorts.get(n));
    if (n !== "edge") env[`OASIS_${n.toUpperCase()}_URL`] = `http://127.0.0.1:${p}`;
  }
  const verbose = opts.verbose ?? !!process.env.OASIS_TEST_VERBOSE;
  const supervisor = new Supervisor({ output: verbose ? undefined : null, restart: opts.restart ?? false });
  const entry = (n: string) => (n === "edge" ? join(root, "edge", "main.ts") : join(root, "services", n, "main.ts"));
  const mesh: TestMesh = {
    namespace,
    env,
    supervisor,
    url: (n) => `http://127.0.0.1:${ports.get(n)}`,
    metricsUrl: (n) => `http://127.0.0.1:${metricsPorts.get(n)}`,
    port: (n) => ports.get(n)!,
    async stop() {
      await supervisor.stopAll();
      await cleanupNamespace(namespace, env);
    },
  };
  try {
    await supervisor.startAll(opts.services.map((n) => ({ name: n, entry: entry(n), port: ports.get(n)!, env })));
    if (opts.edge) await supervisor.start({ name: "edge", entry: entry("edge"), port: ports.get("edge")!, env });
  } catch (err) {
    await mesh.stop();
    throw err;
  }
  return mesh;
}
