/**
 * Writes through the edge, as the app sends them: follows (`POST /v1/users/{id}:follow`)
 * and likes (`POST /v1/posts/{id}:like`), each a closed loop of `clients` workers for
 * `seconds`, every call a new (user, user) or (user, post) pair between `users` Reed98
 * members with real tokens. The mesh runs what a follow and a like set off (feed and
 * notification consume their events), so the CPU printed is the whole write's. Prints
 * writes/s, p50/p99, errors and CPU ms per write of each process (Bun services, edge,
 * MariaDB, Redis, NATS). Issue 16's goal: >= 1,000/s each.
 *
 * `OASIS_BENCH_AB="VAR=a,b"` runs the same load with VAR set to a, then b, then a, then b
 * (the service VAR names, OASIS_<SERVICE>_... or OASIS_EDGE_..., restarted each time;
 * every service when one VAR names none, and the edge too when one names it), in this one run, and prints the ratio of writes/s and of CPU per write
 * of b over a (mean of its two rounds), so the box's other load falls on both alike.
 * `OASIS_BENCH_AB="clients=16,64"` varies the bench's own client count instead (nothing
 * restarted): what more writes in flight buy, as the demo loader's concurrency.
 * Several variables switched together: `OASIS_BENCH_AB="VAR1=a,b;VAR2=c,d"` (round "a"
 * sets VAR1=a and VAR2=c, round "b" VAR1=b and VAR2=d; the services they name restarted).
 * `OASIS_BENCH_AB="order=file,spread"` follows Reed98 friendships among the members (each
 * both ways; even-numbered edges for `file`, odd for `spread`, so neither repeats the
 * other's) in the edge file's order, as the demo loader sent them at stop 26, and in the
 * loader's spread order (demo/users.ts demoFollows); nothing restarted.
 * `OASIS_BENCH_LIKE_POSTS=n` spreads the likes over n posts instead of a tenth of the
 * members' (at least 20).
 *
 * Consumers keeping up: a write counts only once its events are applied. After each
 * phase's window the bench prints the backlog left (unsent outbox rows of the writing
 * service, and each consumer's undelivered plus unacknowledged events of that domain's
 * stream), then waits until all of it is zero ("drained", polled every 50 ms). The
 * "applied" figures count the window plus the drain: writes/s = writes / (window +
 * drain), CPU ms per write = every process's CPU from the window's start to the drain's
 * end / writes. The RATIO lines use those.
 *
 * `OASIS_BENCH_PHASES=follows` (or `likes`) runs only that phase, e.g. for a CPU profile
 * of the follow path (`OASIS_BUN_FLAGS="--cpu-prof --cpu-prof-dir=/tmp/prof"`, README).
 *
 * `OASIS_BENCH_PROFILE="<bun flags>"` (e.g. "--cpu-prof-md --cpu-prof-dir=/tmp/prof"): the
 * mesh's Bun processes restarted after the setup with those flags (as bench/social.ts
 * does), so their CPU profiles hold the warm-up and the measured phases, not the setup.
 *
 * Run: bun bench/writes.ts [seconds per phase, default 10] [clients, default 64] [users, default 400]
 */
import { execSync } from "node:child_process";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { createPool } from "mysql2/promise";
import { streamName } from "../kit/bus.ts";
import { databaseName } from "../kit/config.ts";
import { raiseEdgeLimits } from "../edge/limits-admin.ts";
import { readEdges, readFortunes } from "../demo/data.ts";
import { demoFollows, shuffled } from "../demo/users.ts";
import { testAdminHandle } from "../kit/testing/mesh.ts";
import { ensureInfra } from "../scripts/infra.ts";
import { inParallel, startSocialTestbed } from "../testbeds/social.ts";
import { snapshot } from "./lib/cpu.ts";
import { again, closedLoopFor, type LoopResult } from "./lib/load-clients.ts";
import { machineLine } from "./lib/machine.ts";

const seconds = Number(process.argv[2] ?? 10);
const clients = Number(process.argv[3] ?? 64);
const userCount = Number(process.argv[4] ?? 400);
const services = ["identity", "graph", "media", "post", "interaction", "feed", "notification"];

/**
 * OASIS_BENCH_AB="VAR=a,b" -> { name: VAR, values: [a, b], vars: [{ VAR, [a, b] }] };
 * "V1=a,b;V2=c,d" -> { name: "V1+V2", values: ["a/c", "b/d"], vars: both }.
 */
function abSpec(raw: string | undefined): { name: string; values: [string, string]; vars: Array<{ name: string; values: [string, string] }> } | undefined {
  if (!raw) return undefined;
  const vars = raw.split(";").map((part) => {
    const m = /^([A-Z0-9_]+|clients|order)=([^,]*),([^,]*)$/.exec(part.trim());
    if (!m) throw new Error(`OASIS_BENCH_AB must look like VAR=a,b, clients=a,b or VAR1=a,b;VAR2=c,d, got ${JSON.stringify(raw)}`);
    return { name: m[1]!, values: [m[2]!, m[3]!] as [string, string] };
  });
  if (vars.length > 1 && vars.some((v) => v.name === "clients" || v.name === "order")) throw new Error("OASIS_BENCH_AB: clients and order cannot be combined with other variables");
  const values = [0, 1].map((i) => vars.map((v) => v.values[i]).join("/")) as [string, string];
  return { name: vars.map((v) => v.name).join("+"), values, vars };
}
const ab = abSpec(process.env.OASIS_BENCH_AB);



await ensureInfra();
console.log(machineLine());
const bed = await startSocialTestbed(services);
for (const sig of ["SIGINT", "SIGTERM"] as const) process.on(sig, () => void bed.stop().then(() => process.exit(130)));
try {
  const t0 = performance.now();
  await raiseEdgeLimits(bed.mesh.url("edge"), testAdminHandle);
  const members = [...new Set(readEdges().flat())].sort((a, b) => a - b).slice(0, userCount);
  const ids = await again(() => bed.users(members, { concurrency: 16 }));
  const tokens: string[] = new Array(members.length);
  await inParallel(members, 16, async (n, i) => {
    tokens[i] = await again(() => bed.token(n));
  });
  // A tenth of the members (at least 20) post a real photo once: the likes' targets.
  const quotes = readFortunes("en-people.fortune");
  const posters = members.slice(0, Number(process.env.OASIS_BENCH_LIKE_POSTS) || Math.max(20, Math.ceil(members.length / 10)));
  const posts: bigint[] = new Array(posters.length);
  await inParallel(posters, 8, async (_n, i) => {
    const media = await again(() => bed.photo(ids[i]!, i));
    posts[i] = (await again(() => bed.post(ids[i]!).createPost({ mediaIds: [media], caption: quotes[i % quotes.length]!.slice(0, 300), requestId: `bench-writes-${i}` }))).post!.postId;
  });
  // Every ordered pair of distinct users, and every (user, post), each used once.
  const indexOf = new Map(members.map((n, i) => [n, i]));
  const memberEdges = readEdges().filter(([u, v]) => indexOf.has(u) && indexOf.has(v));
  const asIndices = (follows: Array<[number, number]>) => follows.map(([a, b]) => [indexOf.get(a)!, indexOf.get(b)!] as const);
  const followLists = {
    shuffled: shuffled(members.flatMap((_a, i) => members.flatMap((_b, j) => (i === j ? [] : [[i, j] as const])))),
    file: asIndices(demoFollows(memberEdges.filter((_e, i) => i % 2 === 0), "file")),
    spread: asIndices(demoFollows(memberEdges.filter((_e, i) => i % 2 === 1), "spread")),
  };
  type Order = keyof typeof followLists;
  let order: Order = "shuffled";
  const likePairs = shuffled(members.flatMap((_u, i) => posts.map((_p, j) => [i, j] as const)));
  console.log(`setup: ${members.length} users, ${posts.length} posts in ${((performance.now() - t0) / 1000).toFixed(0)} s; ${clients} clients, ${seconds} s per phase`);

  const edge = bed.mesh.url("edge");
  const call = async (path: string, token: string) => {
    const res = await fetch(`${edge}${path}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: "{}" });
    await res.arrayBuffer();
    if (!res.ok) throw new Error(`${path}: ${res.status}`);
  };
  const nextFollow: Record<Order, number> = { shuffled: 0, file: 0, spread: 0 };
  let nextLike = 0;
  const phases = {
    follows: (i: number) => {
      const pairs = followLists[order];
      const [a, b] = pairs[(nextFollow[order] + i) % pairs.length]!;
      return call(`/v1/users/${ids[b]}:follow`, tokens[a]!);
    },
    likes: (i: number) => {
      const [u, p] = likePairs[(nextLike + i) % likePairs.length]!;
      return call(`/v1/posts/${posts[p]}:like`, tokens[u]!);
    },
  } as const;
  type Phase = keyof typeof phases;
  const chosen = (process.env.OASIS_BENCH_PHASES ?? "follows,likes").split(",").filter((p): p is Phase => p in phases);

  const pidsOf = (): Record<string, number | undefined> => {
    const p: Record<string, number | undefined> = Object.fromEntries([...services, "edge"].map((s) => [s, bed.mesh.supervisor.pid(s)]));
    for (const [k, bin] of [["mariadb", "mariadbd"], ["redis", "redis-server"], ["nats", "nats-server"]] as const) {
      p[k] = Number(execSync(`pgrep -o ${bin}`).toString().trim()) || undefined;
    }
    return p;
  };
  const load = () => execSync("cat /proc/loadavg").toString().split(" ").slice(0, 3).join(" ");

  // The events' backlog of a phase: the writer's unsent outbox rows and each consumer's
  // undelivered + unacknowledged events in that domain's stream.
  const ns = bed.mesh.namespace;
  const nc = await connect({ servers: bed.mesh.env.OASIS_NATS_URL ?? "127.0.0.1:4222" });
  const jsm = await jetstreamManager(nc);
  const sql = createPool({ uri: bed.mesh.env.OASIS_MYSQL_URL ?? "mysql://root@127.0.0.1:3306", connectionLimit: 1 });
  const writerOf: Record<Phase, string> = { follows: "graph", likes: "interaction" };
  const backlog = async (phase: Phase): Promise<{ outbox: number; consumers: Record<string, number>; total: number }> => {
    const domain = writerOf[phase];
    const [rows] = await sql.query(`SELECT COUNT(*) AS n FROM \`${databaseName(domain, ns)}\`.outbox WHERE sent_at IS NULL`);
    const outbox = Number((rows as Array<{ n: number }>)[0]!.n);
    const consumers: Record<string, number> = {};
    for await (const ci of jsm.consumers.list(streamName(ns, domain))) consumers[ci.name.replace(`${ns}-`, "")] = ci.num_pending + ci.num_ack_pending;
    return { outbox, consumers, total: outbox + Object.values(consumers).reduce((a, b) => a + b, 0) };
  };
  /** Waits until the phase's backlog is empty; the backlog at the start and the ms it took. */
  const drain = async (phase: Phase) => {
    const t0 = performance.now();
    const first = await backlog(phase);
    for (let b = first; b.total > 0; b = await backlog(phase)) {
      if (performance.now() - t0 > 120_000) throw new Error(`${phase}: backlog not drained in 120 s: ${JSON.stringify(b)}`);
      await Bun.sleep(50);
    }
    return { first, ms: first.total > 0 ? performance.now() - t0 : 0 };
  };

  /** One phase: writes/s, latency and CPU ms per write of each process. */
  type Result = LoopResult & { cpuMs: Record<string, number>; appliedRate: number; appliedCpuMs: Record<string, number>; drainMs: number };
  const run = async (phase: Phase, label: string, workers = clients): Promise<Result> => {
    await drain(phase); // the warm-up's events are not this phase's
    const pids = pidsOf();
    const c0 = snapshot(pids);
    const r = await closedLoopFor(seconds, workers, phases[phase]);
    const c1 = snapshot(pids);
    const d = await drain(phase);
    const c2 = snapshot(pids);
    if (phase === "follows") nextFollow[order] += r.count;
    else nextLike += r.count;
    const cpuMs = Object.fromEntries(Object.keys(c0).map((k) => [k, ((c1[k]! - c0[k]!) * 1000) / Math.max(1, r.count)]));
    const total = Object.values(cpuMs).reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
    console.log(
      `${label} ${phase}: ${r.count} in ${r.seconds.toFixed(1)} s = ${r.rate.toFixed(0)}/s, p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms, errors ${r.errors} (load ${load()})`,
    );
    console.log(`  CPU ms per write (window): ${Object.entries(cpuMs).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ")}; all ${total.toFixed(2)}`);
    const appliedCpuMs = Object.fromEntries(Object.keys(c0).map((k) => [k, ((c2[k]! - c0[k]!) * 1000) / Math.max(1, r.count)]));
    const appliedTotal = Object.values(appliedCpuMs).reduce((a, b) => a + (Number.isFinite(b) ? b : 0), 0);
    const appliedRate = r.count / (r.seconds + d.ms / 1000);
    console.log(
      `  backlog at the window's end: outbox ${d.first.outbox}, ${Object.entries(d.first.consumers).map(([k, v]) => `${k} ${v}`).join(", ")}; drained in ${d.ms.toFixed(0)} ms; ` +
        `applied ${appliedRate.toFixed(0)}/s, CPU ms per applied write: ${Object.entries(appliedCpuMs).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(", ")}; all ${appliedTotal.toFixed(2)}`,
    );
    return { ...r, cpuMs, appliedRate, appliedCpuMs, drainMs: d.ms };
  };

  const profileFlags = process.env.OASIS_BENCH_PROFILE;
  if (profileFlags) {
    process.env.OASIS_BUN_FLAGS = profileFlags;
    for (const s of [...services, "edge"]) await bed.mesh.supervisor.stop(s);
    for (const s of [...services, "edge"]) await bed.mesh.supervisor.restart(s);
    console.log(`profiling from here (${profileFlags}): ${[...services, "edge"].join(", ")} restarted`);
  }
  // Warm-up (JIT, pools, caches), not counted.
  for (const phase of chosen) await closedLoopFor(2, clients, phases[phase]).then((r) => (phase === "follows" ? (nextFollow[order] += r.count) : (nextLike += r.count)));

  if (!ab) {
    for (const phase of chosen) await run(phase, "");
  } else {
    const owners = ab.vars.map((v) => v.name.match(/^OASIS_([A-Z]+)_/)?.[1]?.toLowerCase());
    const restartable = ab.name === "clients" || ab.name === "order" ? [] : owners.every((o) => o && (services.includes(o) || o === "edge")) ? [...new Set(owners as string[])] : [...services, ...(owners.includes("edge") ? ["edge"] : [])];
    const results: Record<string, Record<Phase, Result[]>> = {};
    for (const v of ab.values) results[v] = { follows: [], likes: [] };
    for (let round = 1; round <= 2; round++) {
      for (const value of ab.values) {
        const workers = ab.name === "clients" ? Number(value) : clients;
        const at = ab.values.indexOf(value);
        if (ab.name === "order") {
          if (!(value in followLists)) throw new Error(`order must be one of ${Object.keys(followLists).join(", ")}, got ${value}`);
          order = value as Order;
        }
        else if (ab.name !== "clients") for (const v of ab.vars) bed.mesh.env[v.name] = v.values[at]!;
        for (const s of restartable) await bed.mesh.supervisor.stop(s);
        for (const s of restartable) await bed.mesh.supervisor.restart(s);
        for (const phase of chosen) {
          await closedLoopFor(2, workers, phases[phase]).then((r) => (phase === "follows" ? (nextFollow[order] += r.count) : (nextLike += r.count)));
          results[value]![phase].push(await run(phase, `round ${round}, ${ab.name}=${value}`, workers));
        }
      }
    }
    const [a, b] = ab.values;
    const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    for (const phase of chosen) {
      const ra = results[a]![phase];
      const rb = results[b]![phase];
      const rate = (rs: typeof ra) => mean(rs.map((r) => r.appliedRate));
      const cpu = (rs: typeof ra, k: string) => mean(rs.map((r) => r.appliedCpuMs[k]!));
      const keys = Object.keys(ra[0]!.cpuMs);
      const all = (rs: typeof ra) => keys.reduce((s, k) => s + (Number.isFinite(cpu(rs, k)) ? cpu(rs, k) : 0), 0);
      console.log(
        `RATIO ${phase} ${ab.name}=${b} / ${a} (mean of two rounds each, applied: window + drain): ${rate(ra).toFixed(0)} -> ${rate(rb).toFixed(0)}/s (${(rate(rb) / rate(ra)).toFixed(2)}x), ` +
          `window ${mean(ra.map((r) => r.rate)).toFixed(0)} -> ${mean(rb.map((r) => r.rate)).toFixed(0)}/s, drain ${mean(ra.map((r) => r.drainMs)).toFixed(0)} -> ${mean(rb.map((r) => r.drainMs)).toFixed(0)} ms, ` +
          `p50 ${mean(ra.map((r) => r.p50Ms)).toFixed(1)} -> ${mean(rb.map((r) => r.p50Ms)).toFixed(1)} ms, p99 ${mean(ra.map((r) => r.p99Ms)).toFixed(1)} -> ${mean(rb.map((r) => r.p99Ms)).toFixed(1)} ms; ` +
          `CPU ms per write: ${keys.map((k) => `${k} ${cpu(ra, k).toFixed(2)} -> ${cpu(rb, k).toFixed(2)}`).join(", ")}; all ${all(ra).toFixed(2)} -> ${all(rb).toFixed(2)}`,
      );
    }
  }
  await nc.close();
  await sql.end();
} finally {
  await bed.stop();
}
