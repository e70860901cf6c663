/**
 * Sign-in, sessions and keys through the edge, as an attacker and as the owner would
 * meet them (issue 14): no targeted lockout, no login enumeration by status, revocation
 * refused at once, password change signs the other devices out, key rotation keeps live
 * tokens working. (Streams: services/notification/notification.test.ts.)
 * The edge trusts one proxy here (OASIS_EDGE_TRUSTED_PROXIES=1), so each request's
 * X-Forwarded-For stands for the client's address.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { decodeProtectedHeader } from "jose";
import { startTestMesh, testAdminHandle, type TestMesh } from "#kit/testing/mesh.ts";
import { until } from "#kit/testing/until.ts";
import { readEdges } from "../demo/data.ts";

let mesh: TestMesh;
let base: string;
const password = "correct horse battery";
const adminPassword = crypto.randomUUID();
// Real Reed98 member ids for handles.
const [a, b, c, d] = [...new Set(readEdges().flat())].slice(40, 44);

async function call(path: string, body: unknown, opts: { token?: string; ip?: string; method?: string } = {}) {
  const res = await fetch(`${base}${path}`, {
    method: opts.method ?? "POST",
    headers: {
      "content-type": "application/json",
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...(opts.ip ? { "x-forwarded-for": opts.ip } : {}),
    },
    ...(opts.method === "GET" ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: (await res.json()) as any };
}

const signIn = async (login: string, pw = password, ip = "198.51.100.1") => call("/v1/sessions", { login, password: pw }, { ip });

beforeAll(async () => {
  mesh = await startTestMesh({
    services: ["identity"],
    edge: true,
    env: {
      OASIS_IDENTITY_PASSWORD_MEMORY_KIB: "4096",
      OASIS_EDGE_TRUSTED_PROXIES: "1",
      // Rotation timing scaled down (defaults 30 s / 40 s / 10 s), same order.
      OASIS_EDGE_JWKS_COOLDOWN_MS: "2000",
      OASIS_IDENTITY_KEY_PUBLISH_DELAY_MS: "10000",
      OASIS_IDENTITY_KEY_RELOAD_MS: "500",
    },
  });
  base = mesh.url("edge");
  for (const h of [`reed_${a}`, `reed_${b}`, `reed_${c}`, `reed_${d}`]) {
    expect((await call("/v1/accounts", { handle: h, email: `${h}@reed.example`, password }, { ip: "192.0.2.1" })).status).toBe(200);
  }
  expect((await call("/v1/accounts", { handle: testAdminHandle, email: "admin@reed.example", password: adminPassword }, { ip: "192.0.2.1" })).status).toBe(200);
});
afterAll(() => mesh?.stop());

describe("sign-in", () => {
  test("six wrong passwords from one IP, then the right one from another IP: 200", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await signIn(`reed_${a}`, "wrong password!", "198.51.100.20")).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    // The attacker's address stays throttled, even with the right password...
    expect((await signIn(`reed_${a}`, password, "198.51.100.20")).status).toBe(429);
    // ...and the owner, elsewhere, signs in.
    const owner = await signIn(`reed_${a}`, password, "203.0.113.5");
    expect(owner.status).toBe(200);
    expect(owner.json.accessToken).toBeTruthy();
  });

  test("an unknown login walks the same statuses and bodies as a known one", async () => {
    const walk = async (login: string, ip: string) => {
      const out: string[] = [];
      for (let i = 0; i < 7; i++) {
        const r = await signIn(login, "wrong password!", ip);
        const reason = r.json.details?.[0]?.debug?.reason ?? "";
        out.push(`${r.status} ${r.json.code} ${reason} ${r.json.message}`);
      }
      return out;
    };
    const known = await walk(`reed_${b}`, "198.51.100.30");
    const unknown = await walk("reed_nobody_at_all", "198.51.100.31");
    console.log(`known login:   ${known.map((s) => s.split(" ")[0]).join(" ")}\nunknown login: ${unknown.map((s) => s.split(" ")[0]).join(" ")}`);
    expect(unknown).toEqual(known);
    expect(known[0]).toStartWith("401 unauthenticated");
    expect(known[6]).toStartWith("429 resource_exhausted");
  });

  test("sign-up with a registered e-mail looks like any sign-up", async () => {
    const taken = await call("/v1/accounts", { handle: "reed_copycat", email: `reed_${a}@reed.example`, password }, { ip: "192.0.2.2" });
    const fresh = await call("/v1/accounts", { handle: "reed_newcomer", email: "newcomer@reed.example", password }, { ip: "192.0.2.2" });
    expect(taken.status).toBe(200);
    expect(Object.keys(taken.json.account).sort()).toEqual(Object.keys(fresh.json.account).sort());
  });
});

describe("sessions", () => {
  test("a revoked session's access token gets 401 through the edge on its next request", async () => {
    const s = (await signIn(`reed_${c}`)).json;
    const me = () => call("/v1/users:batchGet?user_ids=" + s.userId, undefined, { token: s.accessToken, method: "GET" });
    expect((await me()).status).toBe(200); // verified and cached by the edge
    expect((await call("/v1/sessions:revoke", { refreshToken: s.refreshToken })).status).toBe(200);
    const t0 = performance.now();
    const after = await until(me, (r) => r.status === 401, 1_000, 20);
    const ms = performance.now() - t0;
    console.log(`revoked access token refused after ${ms.toFixed(0)} ms`);
    expect(after.status).toBe(401);
    expect(after.json.message).toContain("revoked");
  });

  test("ChangePassword revokes the other sessions; the caller continues in the new one", async () => {
    const phone = (await signIn(`reed_${d}`)).json;
    const laptop = (await signIn(`reed_${d}`)).json;
    const get = (token: string) => call(`/v1/users:batchGet?user_ids=${phone.userId}`, undefined, { token, method: "GET" });
    expect((await get(phone.accessToken)).status).toBe(200);
    const changed = await call("/v1/account:changePassword", { currentPassword: password, newPassword: "a brand new passphrase" }, { token: laptop.accessToken });
    expect(changed.status).toBe(200);
    expect(changed.json.revokedCount).toBe(2);
    expect((await until(() => get(phone.accessToken), (r) => r.status === 401, 1_000, 20)).status).toBe(401);
    expect((await get(laptop.accessToken)).status).toBe(401);
    expect((await get(changed.json.accessToken)).status).toBe(200);
    expect((await call("/v1/sessions:refresh", { refreshToken: phone.refreshToken })).status).toBe(401);
  });

  test("RevokeAllSessions signs out everywhere", async () => {
    const one = (await signIn(`reed_${c}`)).json;
    const two = (await signIn(`reed_${c}`)).json;
    const out = await call("/v1/sessions:revokeAll", {}, { token: one.accessToken });
    expect(out.status).toBe(200);
    expect(out.json.revokedCount).toBeGreaterThanOrEqual(2);
    for (const s of [one, two]) expect((await call("/v1/sessions:revokeAll", {}, { token: s.accessToken })).status).toBe(401);
  });
});

describe("keys", () => {
  test("after a rotation, tokens signed before still verify at the edge; new ones use the new key", async () => {
    const before = (await signIn(`reed_${b}`, password, "203.0.113.40")).json;
    const oldKid = decodeProtectedHeader(before.accessToken).kid;
    const user = (await call("/v1/signingKeys:rotate", {}, { token: before.accessToken })).status;
    expect(user).toBe(403);
    const admin = (await signIn(testAdminHandle, adminPassword, "203.0.113.40")).json;
    const get = (token: string) => call(`/v1/users:batchGet?user_ids=${before.userId}`, undefined, { token, method: "GET" });
    expect((await get(before.accessToken)).status).toBe(200); // the edge has fetched the JWKS just now
    const rotated = await call("/v1/signingKeys:rotate", {}, { token: admin.accessToken });
    expect(rotated.status).toBe(200);
    expect(rotated.json.kid).not.toBe(oldKid);
    // Published at once, signing only after the publish delay (longer than the edge's
    // JWKS refetch cooldown): until then new tokens still carry the old key id.
    const early = (await signIn(`reed_${b}`, password, "203.0.113.40")).json;
    expect(decodeProtectedHeader(early.accessToken).kid).toBe(oldKid);
    // Polled from ever new addresses: the edge allows 30 sign-ins a minute per IP.
    let poll = 0;
    const after = await until(
      async () => (await signIn(`reed_${b}`, password, `203.0.113.${100 + poll++}`)).json,
      (s) => decodeProtectedHeader(s.accessToken).kid === rotated.json.kid,
      30_000,
      500,
    );
    expect(decodeProtectedHeader(after.accessToken).kid).toBe(rotated.json.kid);
    // The edge meets the new key id for the first time: it refetches the JWKS and accepts.
    expect((await get(after.accessToken)).status).toBe(200);
    expect((await get(before.accessToken)).status).toBe(200);
    const jwks = (await (await fetch(`${mesh.url("identity")}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> };
    expect(jwks.keys.map((k) => k.kid)).toEqual([rotated.json.kid, oldKid]);
  });
});
