/**
 * What one mesh hop costs in CPU, client and server side, by transport, in one run on
 * this machine: BatchGetProfiles with 10 ids, 16 calls in flight, 6 s per row.
 *
 * 1. Transport alone (bench/lib/hop-server.ts: a trivial handler, no interceptors):
 *    h2load (C) -> node:http2; h2load --h1 -> Bun.serve; Connect-node HTTP/2 client (what
 *    the mesh uses) -> node:http2; Connect-web over Bun's fetch, HTTP/1.1 -> Bun.serve.
 * 2. The real identity service (kit/server.ts stack: call context, metrics, errors,
 *    access, protovalidate; profiles from the Redis cache): h2load, the mesh client
 *    over HTTP/2, and the mesh client over HTTP/1.1 (OASIS_MESH_HTTP=1.1).
 *
 * Why it exists: the social bench costs ~14 ms of CPU per app request across the mesh
 * for ~5 mesh calls, far more than these rows add up to; this separates what the
 * transport costs from what the services and a crowded 2-core box add.
 *
 * Run: bun bench/hop.ts
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { createConnectTransport as createFetchTransport } from "@connectrpc/connect-web";
import { BatchGetProfilesRequestSchema, IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { signCaller } from "#kit/auth.ts";
import { runInCall } from "#kit/call-context.ts";
import { createMeshTransport } from "#kit/client.ts";
import { testIdentity } from "#kit/testing/clients.ts";
import { freePort } from "#kit/testing/ports.ts";
import { readEdges } from "../demo/data.ts";
import { ensureInfra } from "../scripts/infra.ts";
import { startSocialTestbed } from "../testbeds/social.ts";
import { cpuSeconds } from "./lib/cpu.ts";
import { formatResult, runLoad } from "./lib/h2load.ts";
import { machineLine } from "./lib/machine.ts";

const seconds = 6;
const inFlight = 16;
const path = "/oasis.identity.v1.IdentityService/BatchGetProfiles";

async function startHopServer(kind: "node" | "bunserve"): Promise<{ url: string; pid: number; stop(): void }> {
  const port = await freePort();
  const proc = Bun.spawn([process.execPath, "bench/lib/hop-server.ts", kind, String(port)], { stdout: "pipe" });
  const first = await proc.stdout.getReader().read();
  if (!new TextDecoder().decode(first.value).includes("ready")) throw new Error(`hop server ${kind} did not start`);
  return { url: `http://127.0.0.1:${port}`, pid: proc.pid, stop: () => proc.kill() };
}

/** h2load against `url`; server CPU per call includes h2load's 1 s warm-up. */
async function withH2load(label: string, url: string, http: "h2" | "h1", serverPid: number, ids: bigint[], headers: Record<string, string> = {}) {
  const body = toBinary(BatchGetProfilesRequestSchema, create(BatchGetProfilesRequestSchema, { userIds: ids }));
  const s0 = cpuSeconds(serverPid);
  const r = await runLoad({
    label,
    url: `${url}${path}`,
    http,
    connections: http === "h2" ? 2 : inFlight,
    streams: inFlight / 2,
    body,
    headers: { "content-type": "application/proto", "connect-protocol-version": "1", ...headers },
    durationSeconds: seconds,
    warmupSeconds: 1,
  });
  const perCall = ((cpuSeconds(serverPid) - s0) / r.requests) * 1e6;
  console.log(`${formatResult(r)}\n  server ${perCall.toFixed(0)} us/call (client: h2load, C)`);
}

/** A Bun client in this process: req/s, server and client CPU per call. */
async function withClient(label: string, transport: Transport, serverPid: number, ids: bigint[], asUser?: bigint) {
  const client = createClient(IdentityService, transport);
  const ctx = { requestId: "hop-bench", traceId: "0af7651916cd43dd8448eb211c80319c", spanId: "b7ad6b7169203331", caller: { userId: asUser ?? null, fromMesh: true, service: false } };
  const call = () => runInCall(ctx, () => client.batchGetProfiles({ userIds: ids }));
  await call();
  const s0 = cpuSeconds(serverPid);
  const c0 = cpuSeconds(process.pid);
  const end = performance.now() + seconds * 1000;
  let n = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (performance.now() < end) {
        await call();
        n++;
      }
    }),
  );
  const server = ((cpuSeconds(serverPid) - s0) / n) * 1e6;
  const clientCpu = ((cpuSeconds(process.pid) - c0) / n) * 1e6;
  console.log(`${label.padEnd(46)} ${(n / seconds).toFixed(0).padStart(6)} req/s\n  server ${server.toFixed(0)} us/call, client ${clientCpu.toFixed(0)} us/call, hop ${(server + clientCpu).toFixed(0)} us`);
}

await ensureInfra();
console.log(machineLine());
console.log(`BatchGetProfiles, 10 ids, ${inFlight} in flight, ${seconds} s per row`);
const fakeIds = Array.from({ length: 10 }, (_, i) => BigInt(1_000 + i));

console.log("\n1. transport alone (trivial handler)");
const node = await startHopServer("node");
const bun = await startHopServer("bunserve");
try {
  await withH2load("h2load h2c -> node:http2", node.url, "h2", node.pid, fakeIds);
  await withH2load("h2load HTTP/1.1 -> Bun.serve", bun.url, "h1", bun.pid, fakeIds);
  await withClient("Connect-node h2c -> node:http2", createConnectTransport({ baseUrl: node.url, httpVersion: "2", useBinaryFormat: true }), node.pid, fakeIds);
  await withClient("Connect-web, Bun fetch HTTP/1.1 -> Bun.serve", createFetchTransport({ baseUrl: bun.url, useBinaryFormat: true }), bun.pid, fakeIds);
} finally {
  node.stop();
  bun.stop();
}

console.log("\n2. the identity service (kit/server.ts stack, profiles cached in Redis)");
const bed = await startSocialTestbed(["identity"]);
try {
  const members = [...new Set(readEdges().flat())].slice(0, 10);
  const ids = await bed.users(members);
  // The mesh clients sign as identity's own caller would: as the edge (the identity of this run's keys).
  const secret = testIdentity("edge");
  const pid = bed.mesh.supervisor.pid("identity")!;
  const url = bed.mesh.url("identity");
  await withH2load("h2load h2c -> identity", url, "h2", pid, ids, { "oasis-caller": signCaller(secret, { audience: "identity", method: "oasis.identity.v1.IdentityService/BatchGetProfiles" }, ids[0]!) });
  await withClient("mesh client h2c -> identity", createMeshTransport([url], { meshSecret: secret, httpVersion: "2" }), pid, ids, ids[0]);
  await withClient("mesh client HTTP/1.1 (fetch) -> identity", createMeshTransport([url], { meshSecret: secret, httpVersion: "1.1" }), pid, ids, ids[0]);
} finally {
  await bed.stop();
}
