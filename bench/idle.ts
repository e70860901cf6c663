/**
 * CPU of an idle mesh: the six services of bench/social.ts and the edge started, nothing
 * asked of them, then each process's CPU over `seconds` (default 30), printed in ms of CPU
 * per second. What a process spends with no requests (timers, health checks, JetStream
 * heartbeats and polls, outbox polls) is spread over every request a loaded mesh serves,
 * and more of it per request when the load is lighter.
 *
 * `OASIS_BENCH_AB="VAR=a,b"`: every process restarted with VAR=a, then b, twice, interleaved
 * (a, b, a, b), each measured the same way, and the ratios printed.
 *
 * Run: bun bench/idle.ts [seconds]
 */
import { execSync } from "node:child_process";
import { ensureInfra } from "../scripts/infra.ts";
import { startSocialTestbed } from "../testbeds/social.ts";
import { snapshot } from "./lib/cpu.ts";
import { machineLine } from "./lib/machine.ts";

const seconds = Number(process.argv[2] ?? 30);
const services = ["identity", "graph", "media", "post", "feed", "interaction"];
await ensureInfra();
console.log(machineLine());
const bed = await startSocialTestbed(services);
const load = () => execSync("cat /proc/loadavg").toString().split(" ").slice(0, 3).join(" ");
const all = [...services, "edge"];
/** Each process's CPU over `seconds` of idleness, ms of CPU per second. */
const idle = async (label: string) => {
  // Let the starts' own work (migrations, consumers' first fetches) settle.
  await Bun.sleep(10_000);
  const pids = Object.fromEntries(all.map((s) => [s, bed.mesh.supervisor.pid(s)]));
  const c0 = snapshot(pids);
  const t0 = performance.now();
  await Bun.sleep(seconds * 1000);
  const c1 = snapshot(pids);
  const s = (performance.now() - t0) / 1000;
  const per = Object.fromEntries(Object.keys(pids).map((k) => [k, ((c1[k]! - c0[k]!) * 1000) / s]));
  const sum = Object.values(per).reduce((a, b) => a + b, 0);
  console.log(`${label}: idle mesh over ${s.toFixed(1)} s (load ${load()}): ${Object.entries(per).map(([k, ms]) => `${k} ${ms.toFixed(1)}`).join(", ")} ms CPU/s; all ${sum.toFixed(1)} ms CPU/s`);
  return sum;
};
try {
  const ab = process.env.OASIS_BENCH_AB;
  if (!ab) await idle("defaults");
  else {
    const [variable, values] = ab.split("=") as [string, string];
    const [a, b] = values.split(",") as [string, string];
    const sums = new Map<string, number[]>([[a, []], [b, []]]);
    for (let round = 1; round <= 2; round++) {
      for (const v of [a, b]) {
        bed.mesh.env[variable] = v;
        for (const svc of all) await bed.mesh.supervisor.stop(svc);
        for (const svc of all) await bed.mesh.supervisor.restart(svc);
        sums.get(v)!.push(await idle(`round ${round}, ${variable}=${v}`));
      }
    }
    const mean = (xs: number[]) => xs.reduce((x, y) => x + y, 0) / xs.length;
    console.log(`RATIO idle CPU ${variable}=${b} / ${a}: ${(mean(sums.get(b)!) / mean(sums.get(a)!)).toFixed(2)} (${mean(sums.get(a)!).toFixed(1)} -> ${mean(sums.get(b)!).toFixed(1)} ms CPU/s, all seven processes)`);
  }
} finally {
  await bed.stop();
}
