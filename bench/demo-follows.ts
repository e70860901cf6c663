/**
 * The demo's follow load, timed on the real main job: runs `bun demo/main.ts --exit`
 * (the README's command) from scratch in a fresh namespace on free ports, reads the
 * follows step's final progress line (37,624 follows through the edge, the loader's 64 in
 * flight), then waits until graph's events of the load are applied (graph's unsent
 * outbox rows and every consumer of graph's stream at zero: "applied" = the step's time
 * plus that drain, measured from the step's end), stops the job with Ctrl-C (it does not
 * load the rest) and drops the namespace. Prints the accounts, sessions and profiles steps
 * too, and the load average.
 *
 * `OASIS_BENCH_AB="VAR=a,b"` (or "V1=a,b;V2=c,d") runs it with the variables at a, b, a, b
 * (four fresh loads; `OASIS_BENCH_ROUNDS=1`: a, b only) and prints the mean of each.
 *
 * Each load also prints the CPU seconds each mesh process (the demo's children, named by
 * their entry) and mariadbd used during the follows step and during the drain after it,
 * and notification's CPU ms per follow event (step + drain): on a shared 2-core box a
 * consumer that needs more CPU per event than it gets drains slowly whatever it waits on.
 * `OASIS_BENCH_PROFILE="<bun flags>"` (e.g. "--cpu-prof-md --cpu-prof-dir=/tmp/prof")
 * starts every mesh process with those flags (OASIS_BUN_FLAGS); the pids printed name the
 * profiles, written when the job is stopped.
 *
 * Run: bun bench/demo-follows.ts
 */
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { execSync } from "node:child_process";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { createPool } from "mysql2/promise";
import { mesh } from "../mesh.config.ts";
import { streamName } from "../kit/bus.ts";
import { databaseName } from "../kit/config.ts";
import { cleanupNamespace, testNamespace } from "../kit/testing/namespace.ts";
import { freePort } from "../kit/testing/ports.ts";
import { ensureInfra } from "../scripts/infra.ts";
import { machineLine } from "./lib/machine.ts";
import { snapshot } from "./lib/cpu.ts";

const root = join(import.meta.dir, "..");
const load = () => execSync("cat /proc/loadavg").toString().split(" ").slice(0, 3).join(" ");

interface Run {
  readonly steps: Record<string, { count: number; seconds: number }>;
  /** ms from the follows step's end until graph's events were all applied. */
  readonly drainMs: number;
  readonly backlogAtEnd: Record<string, number>;
  /** CPU seconds per process during the follows step (from its first progress line) and during the drain. */
  readonly cpuStep: Record<string, number>;
  readonly cpuDrain: Record<string, number>;
}

/** The demo's child processes (the mesh) by name: services/<name>/main.ts or edge/main.ts, else the entry's file name. */
function meshPids(parent: number): Record<string, number> {
  const out: Record<string, number> = {};
  let children: string[] = [];
  try {
    children = execSync(`pgrep -P ${parent}`).toString().trim().split("\n").filter(Boolean);
  } catch {
    return out;
  }
  for (const pid of children) {
    try {
      const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
      const entry = argv.at(-1) ?? "";
      const name = /services\/([a-z-]+)\//.exec(entry)?.[1] ?? (/\bedge\//.test(entry) ? "edge" : basename(entry));
      out[name] = Number(pid);
    } catch {
      // exited
    }
  }
  try {
    out.mariadbd = Number(execSync("pgrep -o mariadbd").toString().trim());
  } catch {
    // not local
  }
  return out;
}

const diff = (a: Record<string, number>, b: Record<string, number>) => Object.fromEntries(Object.keys(a).map((k) => [k, (b[k] ?? Number.NaN) - a[k]!]));

/** One fresh demo load up to its follows (and their events), with `vars` set. */
async function once(vars: Record<string, string>): Promise<Run> {
  const namespace = testNamespace();
  const profile = process.env.OASIS_BENCH_PROFILE;
  const env: Record<string, string> = { ...(process.env as Record<string, string>), ...(profile && { OASIS_BUN_FLAGS: profile }), ...vars, OASIS_NAMESPACE: namespace, OASIS_LOG_LEVEL: "warn", OASIS_IDENTITY_KEK: randomBytes(32).toString("base64") };
  for (const e of mesh) {
    env[`OASIS_${e.name.toUpperCase()}_PORT`] = String(await freePort());
    env[`OASIS_${e.name.toUpperCase()}_METRICS_PORT`] = String(await freePort());
  }
  env.OASIS_EDGE_PORT = String(await freePort());
  env.OASIS_EDGE_METRICS_PORT = String(await freePort());
  const demo = Bun.spawn([process.execPath, join(root, "demo", "main.ts"), "--exit"], { env, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  let output = "";
  for (const s of [demo.stdout, demo.stderr]) {
    void (async () => {
      const d = new TextDecoder();
      for await (const c of s) output += d.decode(c, { stream: true });
    })();
  }
  const nc = await connect({ servers: env.OASIS_NATS_URL ?? "127.0.0.1:4222" });
  const sql = createPool({ uri: env.OASIS_MYSQL_URL ?? "mysql://root@127.0.0.1:3306", connectionLimit: 1 });
  try {
    // Non-TTY progress: "<label> [bar] done/total rate/s seconds s", the last one at done === total.
    const stepLine = (label: string) => new RegExp(`^${label} +\\[#+\\] +(\\d+)/(\\d+) +\\d+/s +([\\d.]+) s$`, "m");
    const steps: Run["steps"] = {};
    let pids: Record<string, number> = {};
    let cpu0: Record<string, number> = {};
    for (const label of ["accounts", "sessions", "profiles", "follows"]) {
      for (const end = Date.now() + 30 * 60_000; ; await Bun.sleep(100)) {
        if (label === "follows" && !Object.keys(cpu0).length && /^follows /m.test(output)) {
          pids = meshPids(demo.pid);
          cpu0 = snapshot(pids);
        }
        const lines = [...output.matchAll(new RegExp(stepLine(label), "gm"))].filter((m) => m[1] === m[2]);
        if (lines.length) {
          steps[label] = { count: Number(lines[0]![1]), seconds: Number(lines[0]![3]) };
          break;
        }
        if (demo.exitCode !== null || Date.now() > end) throw new Error(`no final ${label} line:\n${output.slice(-3000)}`);
      }
    }
    const t0 = performance.now();
    const cpu1 = snapshot(pids);
    const jsm = await jetstreamManager(nc);
    const backlog = async () => {
      const [rows] = await sql.query(`SELECT COUNT(*) AS n FROM \`${databaseName("graph", namespace)}\`.outbox WHERE sent_at IS NULL`);
      const out: Record<string, number> = { outbox: Number((rows as Array<{ n: number }>)[0]!.n) };
      for await (const ci of jsm.consumers.list(streamName(namespace, "graph"))) out[ci.name.replace(`${namespace}-`, "")] = ci.num_pending + ci.num_ack_pending;
      return out;
    };
    const backlogAtEnd = await backlog();
    for (let b = backlogAtEnd; Object.values(b).some((n) => n > 0); b = await backlog()) {
      if (performance.now() - t0 > 600_000) throw new Error(`graph's events not applied in 600 s: ${JSON.stringify(b)}`);
      await Bun.sleep(100);
    }
    const drainMs = performance.now() - t0;
    const cpu2 = snapshot(pids);
    if (profile) console.log(`profiled pids: ${Object.entries(pids).map(([k, v]) => `${k} ${v}`).join(", ")}`);
    return { steps, drainMs, backlogAtEnd, cpuStep: diff(cpu0, cpu1), cpuDrain: diff(cpu1, cpu2) };
  } finally {
    demo.kill("SIGINT");
    await Promise.race([demo.exited, Bun.sleep(30_000)]);
    if (demo.exitCode === null) demo.kill("SIGKILL");
    await nc.close();
    await sql.end();
    await cleanupNamespace(namespace);
    rmSync(join(root, ".data", "media", namespace), { recursive: true, force: true });
  }
}

function print(label: string, r: Run): void {
  const f = r.steps.follows!;
  console.log(
    `${label}: follows ${f.count} in ${f.seconds.toFixed(1)} s (${(f.count / f.seconds).toFixed(0)}/s); applied ${((f.seconds * 1000 + r.drainMs) / 1000).toFixed(1)} s ` +
      `(events drained ${(r.drainMs / 1000).toFixed(1)} s after the step; backlog then ${Object.entries(r.backlogAtEnd).map(([k, v]) => `${k} ${v}`).join(", ")}); ` +
      `accounts ${r.steps.accounts!.seconds.toFixed(1)} s, sessions ${r.steps.sessions!.seconds.toFixed(1)} s, profiles ${r.steps.profiles!.seconds.toFixed(1)} s (load ${load()})`,
  );
  const cpu = (c: Record<string, number>) => Object.entries(c).filter(([, v]) => v > 0.05).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ");
  console.log(`  CPU s in the step: ${cpu(r.cpuStep)}; in the drain (${(r.drainMs / 1000).toFixed(1)} s): ${cpu(r.cpuDrain)}`);
  const n = r.cpuStep.notification! + r.cpuDrain.notification!;
  const m = r.cpuStep.mariadbd! + r.cpuDrain.mariadbd!;
  console.log(`  notification ${((n * 1000) / f.count).toFixed(3)} ms CPU per follow event; mariadbd ${((m * 1000) / f.count).toFixed(3)} ms per follow (all its work, step + drain)`);
}

await ensureInfra();
console.log(machineLine());
const raw = process.env.OASIS_BENCH_AB;
if (!raw) {
  print("demo", await once({}));
} else {
  const vars = raw.split(";").map((part) => {
    const m = /^([A-Z0-9_]+)=([^,]*),([^,]*)$/.exec(part.trim());
    if (!m) throw new Error(`OASIS_BENCH_AB must look like VAR=a,b or VAR1=a,b;VAR2=c,d, got ${JSON.stringify(raw)}`);
    return { name: m[1]!, values: [m[2]!, m[3]!] as const };
  });
  const rounds = Number(process.env.OASIS_BENCH_ROUNDS ?? 2);
  const results: Run[][] = [[], []];
  for (let round = 1; round <= rounds; round++) {
    for (const at of [0, 1] as const) {
      const set = Object.fromEntries(vars.map((v) => [v.name, v.values[at]]));
      const r = await once(set);
      results[at]!.push(r);
      print(`round ${round}, ${vars.map((v) => `${v.name}=${v.values[at]}`).join(" ")}`, r);
    }
  }
  const mean = (rs: Run[], f: (r: Run) => number) => rs.reduce((s, r) => s + f(r), 0) / rs.length;
  const step = (r: Run) => r.steps.follows!.seconds;
  const applied = (r: Run) => r.steps.follows!.seconds + r.drainMs / 1000;
  console.log(
    `RATIO follows ${vars.map((v) => v.name).join("+")} b / a (mean of ${rounds} each): step ${mean(results[0]!, step).toFixed(1)} -> ${mean(results[1]!, step).toFixed(1)} s, ` +
      `applied ${mean(results[0]!, applied).toFixed(1)} -> ${mean(results[1]!, applied).toFixed(1)} s (${(mean(results[1]!, applied) / mean(results[0]!, applied)).toFixed(2)}x)`,
  );
}
