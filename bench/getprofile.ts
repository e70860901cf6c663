/**
 * GetProfile, direct vs through the edge, in one run on this machine:
 * - direct:    Connect protocol, binary Protobuf, HTTP/2 cleartext to identity;
 * - edge JSON: Connect JSON over HTTP/1.1 keep-alive to the edge, which rate-limits
 *              (one Redis call), decodes, calls identity over the mesh, encodes;
 * - edge REST: GET /v1/users/{id}, the same through the REST transcoder.
 * Prints req/s, p50/p99, CPU per request of each process, the ratios edge/direct (goal
 * >= 0.7, issues 3 and 7) and Redis calls per edge request (goal <= 2), counted both by
 * the edge (edge_redis_calls_total) and by Redis (cmdstat_evalsha).
 *
 * Run: bun bench/getprofile.ts [seconds per run, default 10]
 */
import { create, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { GetProfileRequestSchema, IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { startTestMesh } from "#kit/testing/mesh.ts";
import { ensureInfra } from "../scripts/infra.ts";
import { readEdges } from "../demo/data.ts";
import { formatResult, runLoad } from "./lib/h2load.ts";
import { machineLine } from "./lib/machine.ts";
import { raiseEdgeLimits } from "../edge/limits-admin.ts";
import { testAdminHandle } from "../kit/testing/mesh.ts";
import { metricValue } from "./lib/metrics.ts";
import { Redis } from "ioredis";
import { perRequest, snapshot } from "./lib/cpu.ts";

const seconds = Number(process.argv[2] ?? 10);
await ensureInfra();
console.log(machineLine());
const mesh = await startTestMesh({ services: ["identity"], edge: true });
try {
  const identity = createClient(IdentityService, createConnectTransport({ baseUrl: mesh.url("identity"), httpVersion: "2" }));
  const member = readEdges()[0]![0];
  const created = await identity.createAccount({ handle: `reed_${member}`, email: `${member}@reed.example`, password: "correct horse battery" });
  const userId = created.account!.userId;
  const rpcPath = "/oasis.identity.v1.IdentityService/GetProfile";
  await raiseEdgeLimits(mesh.url("edge"), testAdminHandle);

  const pids = { identity: mesh.supervisor.pid("identity"), edge: mesh.supervisor.pid("edge") };
  const cpu0 = snapshot(pids);
  const direct = await runLoad({
    label: "GetProfile direct (Connect binary, h2c)",
    url: `${mesh.url("identity")}${rpcPath}`,
    http: "h2",
    connections: 4,
    streams: 16,
    body: toBinary(GetProfileRequestSchema, create(GetProfileRequestSchema, { lookup: { case: "userId", value: userId } })),
    headers: { "content-type": "application/proto", "connect-protocol-version": "1" },
    durationSeconds: seconds,
    warmupSeconds: 2,
  });
  const cpu1 = snapshot(pids);
  const redisStats = async () => {
    const r = new Redis(process.env.OASIS_REDIS_URL ?? "redis://127.0.0.1:6379");
    const info = await r.info("commandstats");
    r.disconnect();
    return Number(/cmdstat_evalsha:calls=(\d+)/.exec(info)?.[1] ?? 0);
  };
  const edgeCalls0 = await metricValue(mesh.metricsUrl("edge"), "edge_redis_calls_total");
  const edgeRequests0 = await metricValue(mesh.metricsUrl("edge"), "edge_http_requests_total");
  const evalsha0 = await redisStats();
  const edge = await runLoad({
    label: "GetProfile via edge (Connect JSON, HTTP/1.1)",
    url: `${mesh.url("edge")}${rpcPath}`,
    http: "h1",
    connections: 64,
    body: JSON.stringify({ userId: String(userId) }),
    headers: { "content-type": "application/json" },
    durationSeconds: seconds,
    warmupSeconds: 2,
  });
  const cpu2 = snapshot(pids);
  const rest = await runLoad({
    label: "GetProfile via edge (REST GET, HTTP/1.1)",
    url: `${mesh.url("edge")}/v1/users/${userId}`,
    http: "h1",
    connections: 64,
    durationSeconds: seconds,
    warmupSeconds: 2,
  });
  const cpu3 = snapshot(pids);
  const edgeCalls = (await metricValue(mesh.metricsUrl("edge"), "edge_redis_calls_total")) - edgeCalls0;
  const evalsha = (await redisStats()) - evalsha0;
  console.log(formatResult(direct));
  console.log(`  CPU per request (incl. warm-up): ${perRequest(cpu0, cpu1, direct.requests)}`);
  console.log(formatResult(edge));
  console.log(`  CPU per request (incl. warm-up): ${perRequest(cpu1, cpu2, edge.requests)}`);
  console.log(formatResult(rest));
  console.log(`  CPU per request (incl. warm-up): ${perRequest(cpu2, cpu3, rest.requests)}`);
  console.log(`ratio edge JSON/direct: ${(edge.rps / direct.rps).toFixed(2)}, edge REST/direct: ${(rest.rps / direct.rps).toFixed(2)} (goal >= 0.7)`);
  // Counted over both edge runs, warm-ups included (h2load reports the measured part only).
  const edgeRequests = (await metricValue(mesh.metricsUrl("edge"), "edge_http_requests_total")) - edgeRequests0;
  console.log(`Redis calls per edge request: ${(edgeCalls / Math.max(1, edgeRequests)).toFixed(2)} by the edge's count, ${(evalsha / Math.max(1, edgeRequests)).toFixed(2)} by Redis's EVALSHA count (goal <= 2)`);
} finally {
  await mesh.stop();
}
