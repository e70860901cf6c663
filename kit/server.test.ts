/**
 * The kit's RPC server stack on a real server (kit/server.ts) with a handler that fails
 * the way real code does: a plain Error carrying SQL (what mysql2 throws) becomes
 * `internal` with a generic message for the client, while the log keeps the details with
 * the request id; every call is counted in the RPC metrics, including calls refused for
 * a forged mesh credential before any handler runs.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { Code, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { callerHeader, signCaller } from "./auth.ts";
import { testIdentity } from "./testing/clients.ts";
import { createLogger } from "./logger.ts";
import { bind, createRpcServer, type RpcServer } from "./server.ts";
import { failure } from "./testing/errors.ts";

const sql = "Duplicate entry 'reed_1' for key 'uq_handle': INSERT INTO accounts (id, handle, password_hash) VALUES (?, ?, ?)";
const logLines: string[] = [];
let server: RpcServer;
let url = "";

beforeAll(async () => {
  const log = createLogger("kittest", "error", { write: (line: string) => void logLines.push(line) });
  server = createRpcServer({
    name: "kittest",
    host: "127.0.0.1",
    port: 0,
    log,
    // Serves IdentityService, so it plays identity: assertions must name it as audience.
    mesh: testIdentity("identity"),
    drainTimeoutMs: 100,
    bindings: [
      bind(IdentityService, {
        getProfile() {
          throw new Error(sql);
        },
      }),
    ],
  });
  url = `http://127.0.0.1:${await server.start()}`;
});
afterAll(() => server?.stop());

function client(caller: string) {
  const transport = createConnectTransport({
    baseUrl: url,
    httpVersion: "2",
    useBinaryFormat: true,
    interceptors: [
      (next) => async (req) => {
        req.header.set(callerHeader, caller);
        req.header.set("x-request-id", "kit-test-req-1");
        return next(req);
      },
    ],
  });
  return createClient(IdentityService, transport);
}

async function handled(code: string): Promise<number> {
  const text = await server.metrics.registry.metrics();
  const line = text
    .split("\n")
    .find((l) => l.startsWith("grpc_server_handled_total{") && l.includes('grpc_method="GetProfile"') && l.includes(`grpc_code="${code}"`));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

test("a plain Error with SQL in it reaches the client as `internal` with a generic message", async () => {
  const err = await failure(client(signCaller(testIdentity("edge"), { audience: "identity", method: "oasis.identity.v1.IdentityService/GetProfile" }, null)).getProfile({ lookup: { case: "handle", value: "reed_1" } }));
  expect(err.code).toBe(Code.Internal);
  expect(err.rawMessage).toBe("internal error");
  expect(err.details).toEqual([]);
  const everything = JSON.stringify([err.message, [...err.metadata.entries()]]);
  for (const secret of ["INSERT", "accounts", "uq_handle", "Duplicate"]) expect(everything).not.toContain(secret);
  // The details stay in the log, findable by the request id.
  const logged = logLines.map((l) => JSON.parse(l)).find((l) => l.msg === "unexpected error");
  expect(logged.err.message).toBe(sql);
  expect(logged.request_id).toBe("kit-test-req-1");
  expect(await handled("Internal")).toBe(1);
});

test("calls refused for a forged mesh credential are counted too", async () => {
  const before = await handled("Unauthenticated");
  const err = await failure(client("v1.42.9999999999999.AAAA").getProfile({ lookup: { case: "handle", value: "reed_1" } }));
  expect(err.code).toBe(Code.Unauthenticated);
  expect(await handled("Unauthenticated")).toBe(before + 1);
});

test("RPC metrics are go-grpc-prometheus's: started and handled by grpc_type, codes as OK/NotFound, the histogram without the code", async () => {
  const text = await server.metrics.registry.metrics();
  const started = text.split("\n").find((l) => l.startsWith("grpc_server_started_total{") && l.includes('grpc_method="GetProfile"'));
  expect(started).toContain('grpc_type="unary"');
  expect(started).toContain('grpc_service="oasis.identity.v1.IdentityService"');
  expect(Number(started!.split(" ").at(-1))).toBeGreaterThanOrEqual(2);
  expect(text).toMatch(/grpc_server_handled_total\{grpc_type="unary",grpc_service="oasis.identity.v1.IdentityService",grpc_method="GetProfile",grpc_code="Unauthenticated"/);
  const bucket = text.split("\n").find((l) => l.startsWith("grpc_server_handling_seconds_bucket{"));
  expect(bucket).toContain('grpc_type="unary"');
  expect(bucket).not.toContain("grpc_code");
  expect(text).not.toMatch(/grpc_code="(ok|not_found|internal|unauthenticated)"/);
});
