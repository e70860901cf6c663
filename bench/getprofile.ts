/**
 * GetProfile, direct vs through the edge, in one run on this machine:
 * - direct: Connect protocol, binary Protobuf, HTTP/2 cleartext to identity;
 * - edge:   Connect JSON over HTTP/1.1 keep-alive to the edge, which verifies nothing
 *           (public method, anonymous), decodes, calls identity over the mesh, encodes.
 * Prints req/s, p50/p99 and the ratio edge/direct (goal >= 0.7, from issue 3).
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
import { raiseEdgeLimits } from "./lib/edge-limits.ts";
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
  await raiseEdgeLimits(process.env.OASIS_REDIS_URL ?? "redis://127.0.0.1:6379", mesh.namespace);

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
  console.log(formatResult(direct));
  console.log(`  CPU per request (incl. warm-up): ${perRequest(cpu0, cpu1, direct.requests)}`);
  console.log(formatResult(edge));
  console.log(`  CPU per request (incl. warm-up): ${perRequest(cpu1, cpu2, edge.requests)}`);
  console.log(`ratio edge/direct: ${(edge.rps / direct.rps).toFixed(2)} (goal >= 0.7)`);
} finally {
  await mesh.stop();
}
