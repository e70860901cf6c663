/**
 * Graph benchmark on the real Reed98 graph, in one run on this machine:
 * - follows/s loading all 37,624 follows (each friendship both ways) through GraphService,
 *   in four quarters with graph's batched write path off, on, off, on (graph restarted
 *   between them): the ratio and CPU per follow of each;
 * - BatchGetRelationships (1 viewer x 100 users) req/s and p99, direct (Connect binary, h2c);
 * - ListFollowers (page of 1000) req/s and p99, direct, on a user with >= 1000 followers
 *   (the Reed98 maximum degree is lower, so extra followers are added first).
 * Prints CPU per request for graph, identity and MariaDB.
 *
 * Run: bun bench/graph.ts [seconds per read run, default 10] [follows, default all]
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { execSync } from "node:child_process";
import { BatchGetRelationshipsRequestSchema, GraphService, ListFollowersRequestSchema } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { signCaller } from "#kit/auth.ts";
import { testIdentity } from "#kit/testing/clients.ts";
import { testClient } from "#kit/testing/clients.ts";
import { startTestMesh } from "#kit/testing/mesh.ts";
import { ensureInfra } from "../scripts/infra.ts";
import { readEdges } from "../demo/data.ts";
import { perRequest, snapshot } from "./lib/cpu.ts";
import { formatResult, runLoad } from "./lib/h2load.ts";
import { closedLoop } from "./lib/load-clients.ts";
import { machineLine } from "./lib/machine.ts";

const seconds = Number(process.argv[2] ?? 10);
/** Follows to load (default all 37,624; fewer for a quick A/B on a busy machine). */
const followLimit = Number(process.argv[3] ?? Infinity);
await ensureInfra();
console.log(machineLine());
const mesh = await startTestMesh({ services: ["identity", "graph"], env: { OASIS_IDENTITY_PASSWORD_MEMORY_KIB: "1024" } });
const mariadbPid = Number(execSync("pgrep -o mariadbd").toString().trim()) || undefined;
const pids = { graph: mesh.supervisor.pid("graph"), identity: mesh.supervisor.pid("identity"), mariadb: mariadbPid };
try {
  const edges = readEdges();
  const members = [...new Set(edges.flat())].sort((a, b) => a - b);
  const identity = testClient(IdentityService, mesh.url("identity"));
  const ids = new Map<number, bigint>();
  await closedLoop(members.length, 16, async (i) => {
    const n = members[i]!;
    const r = await identity.createAccount({ handle: `reed_${n}`, email: `reed_${n}@bench.example`, password: "correct horse battery" });
    ids.set(n, r.account!.userId);
  });
  const follows = edges.flatMap(([u, v]) => [[u, v], [v, u]] as Array<[number, number]>).slice(0, followLimit);
  // Four quarters of the load, graph restarted between them with its batched write path
  // off (statement by statement) and on (two round trips), interleaved off, on, off, on
  // so the machine's other load falls on both alike.
  const quarter = Math.ceil(follows.length / 4);
  const ab: Record<"off" | "on", Array<{ rate: number; p50: number; p99: number; cpu: Record<string, number> }>> = { off: [], on: [] };
  for (let part = 0; part < 4; part++) {
    const mode = part % 2 === 0 ? "off" : "on";
    mesh.env.OASIS_GRAPH_BATCHED_WRITES = mode === "on" ? "1" : "0";
    await mesh.supervisor.stop("graph");
    await mesh.supervisor.restart("graph");
    pids.graph = mesh.supervisor.pid("graph");
    const slice = follows.slice(part * quarter, (part + 1) * quarter);
    const c0 = snapshot(pids);
    const load = await closedLoop(slice.length, 64, (i) => {
      const [from, to] = slice[i]!;
      return testClient(GraphService, mesh.url("graph"), ids.get(from)!).follow({ userId: ids.get(to)! });
    });
    const c1 = snapshot(pids);
    console.log(
      `Reed98 load, quarter ${part + 1}, batched writes ${mode.toUpperCase()}: ${load.count} follows in ${load.seconds.toFixed(1)} s = ${load.rate.toFixed(0)} follows/s (64 clients), p50 ${load.p50Ms.toFixed(1)} ms, p99 ${load.p99Ms.toFixed(1)} ms, errors ${load.errors}`,
    );
    console.log(`  CPU per follow: ${perRequest(c0, c1, load.count)}`);
    ab[mode].push({ rate: load.rate, p50: load.p50Ms, p99: load.p99Ms, cpu: Object.fromEntries(Object.keys(c0).map((k) => [k, ((c1[k]! - c0[k]!) * 1e6) / load.count])) });
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const cpuOf = (m: "off" | "on", k: string) => mean(ab[m].map((r) => r.cpu[k]!));
  console.log(
    `batched writes ON vs OFF (mean of two quarters each): ${mean(ab.off.map((r) => r.rate)).toFixed(0)} -> ${mean(ab.on.map((r) => r.rate)).toFixed(0)} follows/s ` +
      `(${(mean(ab.on.map((r) => r.rate)) / mean(ab.off.map((r) => r.rate))).toFixed(2)}x), p50 ${mean(ab.off.map((r) => r.p50)).toFixed(1)} -> ${mean(ab.on.map((r) => r.p50)).toFixed(1)} ms; ` +
      `CPU per follow: ${Object.keys(pids).map((k) => `${k} ${cpuOf("off", k).toFixed(0)} -> ${cpuOf("on", k).toFixed(0)} us`).join(", ")}`,
  );

  // Reads. The viewer is the best-connected member; 100 users it may or may not follow.
  const degree = new Map<number, number>();
  for (const [u, v] of edges) for (const x of [u, v]) degree.set(x, (degree.get(x) ?? 0) + 1);
  const hub = [...degree.entries()].sort((a, b) => b[1] - a[1])[0]![0];
  const viewer = ids.get(hub)!;
  const hundred = members.slice(0, 100).map((n) => ids.get(n)!);
  const graphUrl = mesh.url("graph");
  const headers = { "content-type": "application/proto", "connect-protocol-version": "1" };
  const c2 = snapshot(pids);
  const rel = await runLoad({
    label: "BatchGetRelationships 1x100 direct",
    url: `${graphUrl}/oasis.graph.v1.GraphService/BatchGetRelationships`,
    http: "h2",
    connections: 4,
    streams: 8,
    body: toBinary(BatchGetRelationshipsRequestSchema, create(BatchGetRelationshipsRequestSchema, { userIds: hundred })),
    headers: { ...headers, "oasis-caller": signCaller(testIdentity("edge"), { audience: "graph", method: "oasis.graph.v1.GraphService/BatchGetRelationships" }, viewer) },
    durationSeconds: seconds,
    warmupSeconds: 2,
  });
  const c3 = snapshot(pids);
  console.log(formatResult(rel));
  console.log(`  CPU per request (incl. warm-up): ${perRequest(c2, c3, rel.requests)}`);

  // Give the hub >= 1000 followers: everyone follows it already if adjacent; add the rest
  // plus extra accounts until it has 1000.
  const extra = 1000 - members.length + 1;
  const extraIds: bigint[] = [];
  await closedLoop(Math.max(0, extra), 16, async (i) => {
    const r = await identity.createAccount({ handle: `bench_extra_${i}`, email: `extra_${i}@bench.example`, password: "correct horse battery" });
    extraIds.push(r.account!.userId);
  });
  const fans = [...members.filter((n) => n !== hub).map((n) => ids.get(n)!), ...extraIds];
  await closedLoop(fans.length, 64, (i) => testClient(GraphService, graphUrl, fans[i]!).follow({ userId: viewer }));
  const counts = await testClient(GraphService, graphUrl).getCounts({ userId: viewer });
  const c4 = snapshot(pids);
  const list = await runLoad({
    label: `ListFollowers page of 1000 (of ${counts.counts?.followers}) direct`,
    url: `${graphUrl}/oasis.graph.v1.GraphService/ListFollowers`,
    http: "h2",
    connections: 2,
    streams: 4,
    body: toBinary(ListFollowersRequestSchema, create(ListFollowersRequestSchema, { userId: viewer, pageSize: 1000 })),
    headers: { ...headers, "oasis-caller": signCaller(testIdentity("edge"), { audience: "graph", method: "oasis.graph.v1.GraphService/ListFollowers" }, viewer) },
    durationSeconds: seconds,
    warmupSeconds: 2,
  });
  const c5 = snapshot(pids);
  console.log(formatResult(list));
  console.log(`  CPU per request (incl. warm-up): ${perRequest(c4, c5, list.requests)}`);
} finally {
  await mesh.stop();
}
