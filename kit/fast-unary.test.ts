/**
 * kit/fast-unary.ts: a binary Connect unary call answered the short way must be answered
 * exactly as connect-node's adapter answers it. Two kit servers, one with the short way
 * (fastUnary, the default) and one without, serve the same handler; the same requests,
 * over HTTP/2 (the mesh's client) and HTTP/1.1 (fetch), must get the same status, the same
 * headers that matter and the same bytes: an answer, a domain error with details, a
 * body over readMaxBytes, a protovalidate refusal, and a JSON call (not the short way).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { GetProfileRequestSchema, IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { callerHeader, signCaller } from "./auth.ts";
import { testIdentity } from "./testing/clients.ts";
import { createLogger } from "./logger.ts";
import { bind, createRpcServer, type RpcServer } from "./server.ts";
import { failure } from "./testing/errors.ts";

const servers: RpcServer[] = [];
const urls: string[] = [];
const readMaxBytes = 256;
const method = "oasis.identity.v1.IdentityService/GetProfile";
const caller = () => signCaller(testIdentity("edge"), { audience: "identity", method }, null);

beforeAll(async () => {
  for (const fastUnary of [true, false]) {
    const server = createRpcServer({
      name: "fasttest",
      host: "127.0.0.1",
      port: 0,
      log: createLogger("fasttest", "error", { write: () => {} }),
      mesh: testIdentity("identity"),
      drainTimeoutMs: 100,
      readMaxBytes,
      fastUnary,
      bindings: [
        bind(IdentityService, {
          getProfile(req, ctx) {
            if (req.lookup.case !== "handle") throw new ConnectError("by handle only", Code.InvalidArgument);
            if (req.lookup.value === "nobody") throw new ConnectError("no such user", Code.NotFound);
            ctx.responseHeader.set("x-test-answer", "yes");
            return { profile: { userId: 42n, handle: req.lookup.value, displayName: "Reed member 42" } };
          },
        }),
      ],
    });
    servers.push(server);
    urls.push(`http://127.0.0.1:${await server.start()}`);
  }
});
afterAll(async () => {
  for (const s of servers) await s.stop();
});

/** One raw HTTP/1.1 call: status, the headers that are not per-connection, body bytes. */
async function raw(url: string, body: Uint8Array | string, contentType: string) {
  const res = await fetch(`${url}/${method}`, {
    method: "POST",
    headers: { "content-type": contentType, "connect-protocol-version": "1", [callerHeader]: caller(), "x-request-id": "fast-1" },
    body,
  });
  const headers = Object.fromEntries([...res.headers].filter(([k]) => !["date", "connection", "keep-alive", "transfer-encoding"].includes(k)));
  return { status: res.status, headers, body: Buffer.from(await res.arrayBuffer()).toString("base64") };
}

const binary = (handle: string) => toBinary(GetProfileRequestSchema, create(GetProfileRequestSchema, { lookup: { case: "handle", value: handle } }));

test("HTTP/1.1: the short way answers byte for byte as the adapter does", async () => {
  const cases: Array<[Uint8Array | string, string]> = [
    [binary("reed_42"), "application/proto"],
    [binary("nobody"), "application/proto"],
    [toBinary(GetProfileRequestSchema, create(GetProfileRequestSchema, { lookup: { case: "userId", value: 7n } })), "application/proto"],
    [binary("x".repeat(readMaxBytes + 10)), "application/proto"],
    [new Uint8Array([0xff, 0xff, 0xff]), "application/proto"],
    [JSON.stringify({ handle: "reed_42" }), "application/json"],
  ];
  for (const [body, type] of cases) {
    const [fast, adapter] = [await raw(urls[0]!, body, type), await raw(urls[1]!, body, type)];
    expect(fast).toEqual(adapter);
  }
  const ok = await raw(urls[0]!, binary("reed_42"), "application/proto");
  expect([ok.status, ok.headers["x-test-answer"], ok.headers["x-request-id"], ok.headers["content-type"]]).toEqual([200, "yes", "fast-1", "application/proto"]);
  const tooBig = await raw(urls[0]!, binary("x".repeat(readMaxBytes + 10)), "application/proto");
  expect(JSON.parse(Buffer.from(tooBig.body, "base64").toString()).code).toBe("resource_exhausted");
});

test("HTTP/2 (the mesh's client): answers, errors and response headers are the same", async () => {
  const clients = urls.map((baseUrl) =>
    createClient(
      IdentityService,
      createConnectTransport({
        baseUrl,
        httpVersion: "2",
        useBinaryFormat: true,
        interceptors: [
          (next) => async (req) => {
            req.header.set(callerHeader, caller());
            return next(req);
          },
        ],
      }),
    ),
  );
  for (const c of clients) {
    let header: Headers | undefined;
    const res = await c.getProfile({ lookup: { case: "handle", value: "reed_42" } }, { onHeader: (h) => (header = h) });
    expect([res.profile?.userId, res.profile?.handle, header?.get("x-test-answer")]).toEqual([42n, "reed_42", "yes"]);
    const err = await failure(c.getProfile({ lookup: { case: "handle", value: "nobody" } }));
    expect([err.code, err.rawMessage]).toEqual([Code.NotFound, "no such user"]);
    expect(err.metadata.get("x-request-id")).toBeTruthy();
  }
});
