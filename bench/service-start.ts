/**
 * What a service process costs to start, from source against from prebuilt bundles
 * (kit/bundle.ts, OASIS_SERVICE_BUNDLE): for each service, rounds of (source, bundle,
 * bundle with linked source maps) interleaved, each a fresh one-service test mesh
 * (kit/testing/mesh.ts, its own database, so every variant migrates the same); prints
 * the process's CPU seconds at the moment /readyz first answers 200 (/proc/<pid>/stat)
 * and the wall time to ready.
 *
 *   bun bench/service-start.ts [--rounds 3] [--services identity,media]
 *
 * Services that start alone only (feed and wallet, for two, need their upstreams in the mesh).
 */
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { join } from "node:path";
import { buildBundles, defaultBundleDir, meshEntries } from "../kit/bundle.ts";
import { startTestMesh } from "../kit/testing/mesh.ts";
import { ensureInfra } from "../scripts/infra.ts";
import { cpuSeconds } from "./lib/cpu.ts";
import { machineLine } from "./lib/machine.ts";

const { values } = parseArgs({ options: { rounds: { type: "string", default: "3" }, services: { type: "string", default: "identity,media" } } });
const rounds = Number(values.rounds);
const services = values.services!.split(",");
console.log(machineLine());
await ensureInfra();
const built = await buildBundles(meshEntries(services));
const mapped = await buildBundles(meshEntries(services), join(defaultBundleDir, "..", "bundles-map"), { sourcemap: true });
console.log(`bundles: ${built.built ? "built" : "reused"} in ${built.ms.toFixed(0)} ms; with source maps ${mapped.built ? "built" : "reused"} in ${mapped.ms.toFixed(0)} ms`);
const variants = { source: undefined, bundle: built.dir, "bundle-with-map": mapped.dir } as const;
const load = () => loadavg().map((l) => l.toFixed(1)).join(" ");
console.log(`load before: ${load()}`);

const results = new Map<string, { cpu: number[]; wall: number[] }>();
for (let r = 0; r < rounds; r++) {
  for (const service of services) {
    for (const [variant, dir] of Object.entries(variants)) {
      if (dir) process.env.OASIS_SERVICE_BUNDLE_DIR = dir;
      else delete process.env.OASIS_SERVICE_BUNDLE_DIR;
      const t0 = performance.now();
      const mesh = await startTestMesh({ services: [service] });
      const wall = (performance.now() - t0) / 1000;
      const cpu = cpuSeconds(mesh.supervisor.pid(service));
      await mesh.stop();
      const key = `${service} ${variant}`;
      const rec = results.get(key) ?? { cpu: [], wall: [] };
      rec.cpu.push(cpu);
      rec.wall.push(wall);
      results.set(key, rec);
      console.log(`round ${r + 1} ${key.padEnd(28)} cpu ${cpu.toFixed(2)} s  wall ${wall.toFixed(2)} s  load ${load()}`);
    }
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
console.log("\nmedians (cpu s at ready, wall s to ready), bundle/source ratio:");
for (const service of services) {
  const s = results.get(`${service} source`)!;
  console.log(`${service.padEnd(14)} source cpu ${median(s.cpu).toFixed(2)} wall ${median(s.wall).toFixed(2)}`);
  for (const variant of Object.keys(variants).slice(1)) {
    const b = results.get(`${service} ${variant}`)!;
    console.log(`${"".padEnd(14)} ${variant} cpu ${median(b.cpu).toFixed(2)} wall ${median(b.wall).toFixed(2)} | cpu ${(median(b.cpu) / median(s.cpu)).toFixed(2)}x wall ${(median(b.wall) / median(s.wall)).toFixed(2)}x`);
  }
}
console.log(`load after: ${load()}`);
