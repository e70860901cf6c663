/**
 * `npm run mesh`: starts every service in mesh.config.ts and then the edge, each as its
 * own Bun process, waits until each is ready, restarts any that crashes (with backoff),
 * prefixes their logs, and stops them all cleanly on Ctrl-C (edge first, so no new
 * requests arrive while services drain).
 *
 * As a module, `startMesh()` is what the demo uses.
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { mesh, edgePort } from "../mesh.config.ts";
import { Supervisor } from "../kit/supervisor.ts";
import { ensureInfra } from "./infra.ts";

const root = join(import.meta.dir, "..");

export interface RunningMesh {
  readonly supervisor: Supervisor;
  readonly edgeUrl: string;
  readonly services: readonly string[];
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
  const env = {
    ...process.env,
    OASIS_MESH_SERVICES: process.env.OASIS_MESH_SERVICES ?? services.map((e) => e.name).join(","),
    // Signed private media URLs (chat images): a fresh key per run unless one is given.
    OASIS_MEDIA_URL_KEY: process.env.OASIS_MEDIA_URL_KEY || randomBytes(32).toString("base64url"),
  };
  const t0 = performance.now();
  await supervisor.startAll(
    services.map((e) => ({ name: e.name, entry: join(root, "services", e.name, "main.ts"), port: portOf(e.name, e.port), env })),
  );
  const port = portOf("edge", edgePort);
  await supervisor.start({ name: "edge", entry: join(root, "edge", "main.ts"), port, env });
  say(`mesh ready in ${((performance.now() - t0) / 1000).toFixed(1)} s: ${services.map((e) => e.name).join(", ")} + edge`);
  return {
    supervisor,
    edgeUrl: `http://127.0.0.1:${port}`,
    services: services.map((e) => e.name),
    stop: () => supervisor.stopAll(["edge", ...services.map((e) => e.name).reverse()]),
  };
}

if (import.meta.main) {
  const running = await startMesh();
  console.log(`edge:    ${running.edgeUrl}`);
  console.log(`metrics: ${running.edgeUrl}/metrics`);
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
