/**
 * The edge in front of a real identity process: what an app does on day one (sign up,
 * sign in, read and change its own profile) and every way a request can be wrong.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startTestMesh, type TestMesh } from "#kit/testing/mesh.ts";
import { readEdges, readFortunes } from "../demo/data.ts";

let mesh: TestMesh;
let base: string;
const rpc = "/oasis.identity.v1.IdentityService";
const member = readEdges()[0]![0];
const bio = readFortunes("zh-tang300.fortune")[0]!.slice(0, 120);

interface ErrorBody {
  code: string;
  message: string;
  details?: Array<{ type: string; debug?: { fieldViolations?: Array<{ field: string }>; reason?: string } }>;
}

async function call(method: string, body: unknown, token?: string, init: RequestInit = {}) {
  const res = await fetch(`${base}${rpc}/${method}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: typeof body === "string" ? body : JSON.stringify(body),
    ...init,
  });
  return { status: res.status, headers: res.headers, json: (await res.json()) as any };
}

function fields(err: ErrorBody): string[] {
  return (err.details ?? []).flatMap((d) => d.debug?.fieldViolations?.map((v) => v.field) ?? []);
}

beforeAll(async () => {
  mesh = await startTestMesh({ services: ["identity"], edge: true, env: { OASIS_IDENTITY_PASSWORD_MEMORY_KIB: "4096" } });
  base = mesh.url("edge");
});
afterAll(() => mesh?.stop());

describe("through the edge", () => {
  let token = "";
  let userId = "";

  test("sign up, sign in, read and update the own profile", async () => {
    const created = await call("CreateAccount", { handle: `reed_${member}`, email: `e${member}@reed.example`, password: "correct horse battery" });
    expect(created.status).toBe(200);
    userId = created.json.account.userId;
    expect(typeof userId).toBe("string"); // int64 travels as a string in JSON

    const session = await call("CreateSession", { login: `reed_${member}`, password: "correct horse battery" });
    expect(session.status).toBe(200);
    token = session.json.accessToken;
    expect(session.json.userId).toBe(userId);

    const mine = await call("GetProfile", { userId }, token);
    expect(mine.json.profile.handle).toBe(`reed_${member}`);

    const updated = await call("UpdateProfile", { profile: { userId, bio }, updateMask: "bio" }, token);
    expect(updated.status).toBe(200);
    expect(updated.json.profile.bio).toBe(bio);
    expect(updated.headers.get("x-request-id")).toBeTruthy();
  });

  test("without a token or with a forged one: 401 unauthenticated", async () => {
    const none = await call("UpdateProfile", { profile: { userId, bio: "x" }, updateMask: "bio" });
    expect(none.status).toBe(401);
    expect(none.json.code).toBe("unauthenticated");
    const [h, p] = token.split(".");
    const forged = await call("UpdateProfile", { profile: { userId, bio: "x" }, updateMask: "bio" }, `${h}.${p}.${"A".repeat(86)}`);
    expect(forged.status).toBe(401);
    expect(forged.json.code).toBe("unauthenticated");
    // A forged token is refused even on a public method: it is never silently ignored.
    expect((await call("GetProfile", { userId }, "not.a.jwt")).status).toBe(401);
  });

  test("someone else's profile cannot be changed with my token", async () => {
    const other = await call("CreateAccount", { handle: `reed_${member}_b`, email: `f${member}@reed.example`, password: "correct horse battery" });
    const res = await call("UpdateProfile", { profile: { userId: other.json.account.userId, bio: "x" }, updateMask: "bio" }, token);
    expect(res.status).toBe(403);
    expect(res.json.code).toBe("permission_denied");
  });

  test("a duplicate handle is 409 already_exists with the reason", async () => {
    const dup = await call("CreateAccount", { handle: `REED_${member}`, email: `g${member}@reed.example`, password: "correct horse battery" });
    expect(dup.status).toBe(409);
    expect(dup.json.code).toBe("already_exists");
    expect(dup.json.details[0].debug.reason).toBe("HANDLE_TAKEN");
  });

  test("bad input: a clear 4xx naming the problem", async () => {
    const badHandle = await call("CreateAccount", { handle: "no spaces!", email: "h@reed.example", password: "correct horse battery" });
    expect(badHandle.status).toBe(400);
    expect(fields(badHandle.json)).toEqual(["handle"]);
    const shortPassword = await call("CreateAccount", { handle: "reed_short", email: "i@reed.example", password: "123" });
    expect(shortPassword.status).toBe(400);
    expect(fields(shortPassword.json)).toEqual(["password"]);
    expect(shortPassword.json.message).toContain("password");
    const badJson = await call("CreateAccount", '{"handle": "reed_x",');
    expect(badJson.status).toBe(400);
    expect(badJson.json.message).toContain("not valid JSON");
    expect(fields(badJson.json)).toEqual(["body"]);
    const wrongType = await call("CreateAccount", { handle: 12, email: "j@reed.example", password: "correct horse battery" });
    expect(wrongType.status).toBe(400);
    expect(fields(wrongType.json)).toEqual(["handle"]);
    const unknownField = await call("CreateAccount", { handel: "typo" });
    expect(fields(unknownField.json)).toEqual(["handel"]);
    // 2 MB body: refused by size before it is parsed or forwarded, naming the body.
    const big = await call("CreateAccount", JSON.stringify({ handle: "reed_big", bio: "x".repeat(2 * 1024 * 1024) }));
    expect(big.status).toBe(400);
    expect(big.json.code).toBe("invalid_argument");
    expect(fields(big.json)).toEqual(["body"]);
    expect(big.json.message).toContain("larger than the limit");
  });

  test("unknown and internal routes are 404; GET works for side-effect-free methods", async () => {
    expect((await fetch(`${base}/oasis.identity.v1.IdentityService/Nope`, { method: "POST" })).status).toBe(404);
    expect((await fetch(`${base}/nothing/here`)).status).toBe(404);
    const q = encodeURIComponent(JSON.stringify({ handle: `reed_${member}` }));
    const get = await fetch(`${base}${rpc}/GetProfile?encoding=json&message=${q}`);
    expect(get.status).toBe(200);
    const res = await fetch(`${base}${rpc}/CreateAccount?encoding=json&message=${q}`);
    expect(res.status).toBe(400);
  });

  test("probes and metrics", async () => {
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    // /metrics is on the admin port only; the public port does not serve it.
    expect((await fetch(`${base}/metrics`)).status).toBe(404);
    const metrics = await (await fetch(`${mesh.metricsUrl("edge")}/metrics`)).text();
    expect(metrics).toContain('edge_http_requests_total{route="/oasis.identity.v1.IdentityService/CreateAccount"');
  });
});
