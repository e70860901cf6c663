/**
 * One port, every protocol: the same RPC over Connect JSON (HTTP/1.1), Connect binary
 * (HTTP/2), gRPC and gRPC-Web; health and reflection as `buf curl` and Kubernetes use
 * them; the probes over plain HTTP/1.1.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import { Health, HealthCheckResponse_ServingStatus } from "#gen/grpc/health/v1/health_pb.ts";
import { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { signCaller } from "#kit/auth.ts";
import { startTestApp, type TestApp } from "#kit/testing/app.ts";
import { testIdentity } from "#kit/testing/clients.ts";
import { readEdges } from "../../demo/data.ts";
import { createIdentityApp } from "./app.ts";
import { loadIdentityConfig, type IdentityConfig } from "./config.ts";

let svc: TestApp<IdentityConfig>;
let handle: string;
const buf = join(import.meta.dir, "..", "..", "node_modules", ".bin", "buf");

beforeAll(async () => {
  svc = await startTestApp(createIdentityApp, loadIdentityConfig, { env: { OASIS_IDENTITY_PASSWORD_MEMORY_KIB: "4096" } });
  handle = `reed_${readEdges()[5]![0]}`;
  await svc.client(IdentityService).createAccount({ handle, email: `${handle}@reed.example`, password: "correct horse battery" });
});
afterAll(() => svc?.stop());

test("GetProfile answers the same over Connect JSON, Connect binary, gRPC and gRPC-Web", async () => {
  const transports = {
    connectJson: createConnectTransport({ baseUrl: svc.url, httpVersion: "1.1", useBinaryFormat: false }),
    connectBinaryH2: createConnectTransport({ baseUrl: svc.url, httpVersion: "2", useBinaryFormat: true }),
    grpc: createGrpcTransport({ baseUrl: svc.url }),
    grpcWeb: createGrpcWebTransport({ baseUrl: svc.url, httpVersion: "1.1" }),
  };
  const answers: Record<string, string> = {};
  for (const [name, t] of Object.entries(transports)) {
    const res = await createClient(IdentityService, t).getProfile({ lookup: { case: "handle", value: handle } });
    answers[name] = res.profile!.handle;
  }
  expect(answers).toEqual({ connectJson: handle, connectBinaryH2: handle, grpc: handle, grpcWeb: handle });
});

test("grpc.health.v1.Health/Check is SERVING over gRPC, and Watch streams it", async () => {
  const health = createClient(Health, createGrpcTransport({ baseUrl: svc.url }));
  expect((await health.check({})).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  expect((await health.check({ service: "oasis.identity.v1.IdentityService" })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  for await (const s of health.watch({})) {
    expect(s.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    break;
  }
});

/** Runs buf asynchronously (the server under test lives in this process). */
async function bufCurl(...args: string[]): Promise<string> {
  const proc = Bun.spawn([buf, "curl", "--protocol", "grpc", "--http2-prior-knowledge", ...args], { stdout: "pipe", stderr: "pipe" });
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  return out;
}

test("gRPC reflection answers mesh callers only; buf curl lists IdentityService's methods with a mesh credential and calls one", async () => {
  // From outside the mesh (no credential), reflection is refused: the method list is a map of the internal API.
  const refused = Bun.spawn([buf, "curl", "--protocol", "grpc", "--http2-prior-knowledge", svc.url, "--list-methods"], { stdout: "pipe", stderr: "pipe" });
  expect(await refused.exited).not.toBe(0);
  expect(await new Response(refused.stderr).text()).toContain("permission_denied");
  // A mesh caller (here: an assertion the edge signed for identity's reflection method) may list.
  const assertion = signCaller(testIdentity("edge"), { audience: "identity", method: "grpc.reflection.v1.ServerReflection/ServerReflectionInfo" }, null);
  const reflect = ["--reflect-header", `oasis-caller: ${assertion}`];
  const methods = (await bufCurl(...reflect, svc.url, "--list-methods")).trim().split("\n");
  expect(methods).toContain("oasis.identity.v1.IdentityService/CreateAccount");
  expect(methods).toContain("oasis.identity.v1.IdentityService/UpdateProfile");
  expect(methods).toContain("grpc.health.v1.Health/Check");
  expect(JSON.parse(await bufCurl(...reflect, `${svc.url}/grpc.health.v1.Health/Check`))).toEqual({ status: "SERVING" });
  const get = await bufCurl(...reflect, "-d", JSON.stringify({ handle }), `${svc.url}/oasis.identity.v1.IdentityService/GetProfile`);
  expect(JSON.parse(get).profile.handle).toBe(handle);
});

test("/healthz and /readyz answer plain HTTP/1.1 on the service port and the admin port; /metrics only on the admin port", async () => {
  for (const base of [svc.url, svc.metricsUrl]) {
    expect(await (await fetch(`${base}/healthz`)).text()).toBe("ok\n");
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
  }
  expect((await fetch(`${svc.url}/metrics`)).status).toBe(404);
  const metrics = await (await fetch(`${svc.metricsUrl}/metrics`)).text();
  expect(metrics).toMatch(/grpc_server_handled_total\{[^}]*grpc_method="GetProfile"[^}]*grpc_code="OK"[^}]*\} [1-9]/);
  expect(metrics).toContain("grpc_server_handling_seconds_bucket");
});

test("stop drains: a call in flight finishes, then the port closes", async () => {
  const other = await startTestApp(createIdentityApp, loadIdentityConfig, {
    namespace: svc.namespace,
    env: { OASIS_IDENTITY_PASSWORD_MEMORY_KIB: "65536", OASIS_DRAIN_TIMEOUT_MS: "10000" },
  });
  const client = other.client(IdentityService);
  // CreateAccount hashes with argon2id at 64 MiB: slow enough to be in flight during stop.
  const inFlight = client.createAccount({ handle: "reed_drain", email: "drain@reed.example", password: "correct horse battery" });
  await Bun.sleep(20);
  const stopped = other.app.stop();
  const res = await inFlight;
  expect(res.account?.handle).toBe("reed_drain");
  await stopped;
  const after = await fetch(`${other.url}/healthz`).then(() => "answered", () => "refused");
  expect(after).toBe("refused");
});

test("stop tells a Health/Watch stream NOT_SERVING before the stream ends", async () => {
  const other = await startTestApp(createIdentityApp, loadIdentityConfig, {
    namespace: svc.namespace,
    env: { OASIS_IDENTITY_PASSWORD_MEMORY_KIB: "4096", OASIS_DRAIN_TIMEOUT_MS: "1000" },
  });
  const health = createClient(Health, createGrpcTransport({ baseUrl: other.url }));
  const seen: HealthCheckResponse_ServingStatus[] = [];
  let stopping: Promise<void> | undefined;
  const watching = (async () => {
    for await (const s of health.watch({ service: "oasis.identity.v1.IdentityService" })) {
      seen.push(s.status);
      // Stop the server once the watch is established and has reported SERVING.
      stopping ??= other.app.stop();
    }
  })().then(
    () => "ended",
    (err: unknown) => `failed: ${String(err)}`,
  );
  const ended = await Promise.race([watching, Bun.sleep(15_000).then(() => "still open")]);
  await stopping;
  expect(seen).toEqual([HealthCheckResponse_ServingStatus.SERVING, HealthCheckResponse_ServingStatus.NOT_SERVING]);
  // The stream ends (cleanly or as the server closes it), it does not hang.
  expect(ended).not.toBe("still open");
});
