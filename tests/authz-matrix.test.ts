/**
 * The authorization matrix: every method of every service in mesh.config.ts (from the
 * generated descriptors the edge serves, edge/services.ts), called on the service's own
 * port by every kind of caller, and through the edge as an anonymous and a signed-in
 * user. What each call must get comes from the method's `(oasis.api.v1.access)` level
 * alone (the `expected` table), so a new service registered in mesh.config.ts and
 * edge/services.ts, or a new method, is checked without editing this file, and a new
 * access level is one row.
 *
 * Outcomes: "allowed" means the kit let the call through to validation and the handler
 * (an empty request may then fail with invalid_argument or not_found: that is the
 * handler's answer, not an auth one); "unauthenticated" and "permission_denied" mean the
 * kit refused it before any handler ran (kit/auth.ts). Also: a process refuses to start
 * without its mesh key or with a known default one (outside dev mode), and in dev mode
 * on any address but 127.0.0.1.
 *
 * One mesh start; about 1,000 calls.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { Access, audienceOf, callerHeader, callerTtlMs, methodAccess, methodPath, operatorName, signCaller, type CallerWho } from "#kit/auth.ts";
import { AdminService } from "#gen/oasis/admin/v1/admin_service_pb.ts";
import { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import { generateMeshKeys, meshIdentityFrom, meshKeyVar } from "#kit/mesh-keys.ts";
import { testIdentity } from "#kit/testing/clients.ts";
import { errorReason } from "#kit/errors.ts";
import { startTestMesh, type TestMesh } from "#kit/testing/mesh.ts";
import { edgeServices } from "../edge/services.ts";
import { edgeOwnedPaths } from "../edge/registry.ts";
import { mesh as meshTable } from "../mesh.config.ts";
import { bundleFor } from "../kit/bundle.ts";

const root = join(import.meta.dir, "..");
type Outcome = "allowed" | "unauthenticated" | "permission_denied";

/**
 * The callers. `sign` returns the `oasis-caller` value to send to `service`/`method`
 * (undefined: none). Good credentials first, then the attacks: each must be refused
 * whatever the method's level.
 */
interface CallerCase {
  readonly name: string;
  sign(audience: string, method: DescMethod, siblings: readonly DescMethod[]): string | undefined;
}

const userA = 118840942673145856n;
// The same names with keys of another deployment: a forger who does not hold this run's keys.
const stranger = meshIdentityFrom(generateMeshKeys([...meshTable.map((e) => e.name), "edge"]), "edge");
const asEdge = (audience: string, method: DescMethod, who: CallerWho, nowMs?: number) =>
  signCaller(testIdentity("edge"), { audience, method: methodPath(method) }, who, nowMs);
const asService = (issuer: string, audience: string, method: DescMethod, who: CallerWho) =>
  signCaller(testIdentity(issuer), { audience, method: methodPath(method) }, who);
/** Another mesh service than `audience` (the caller of a service-to-service call). */
const otherService = (audience: string) => meshTable.find((e) => e.name !== audience)!.name;

const cases: readonly CallerCase[] = [
  { name: "no credential (straight to the port)", sign: () => undefined },
  { name: "anonymous via the edge", sign: (aud, m) => asEdge(aud, m, null) },
  { name: "user via the edge", sign: (aud, m) => asEdge(aud, m, userA) },
  { name: "user forwarded by a service", sign: (aud, m) => asService(otherService(aud), aud, m, userA) },
  { name: "service acting for itself", sign: (aud, m) => asService(otherService(aud), aud, m, "service") },
  { name: "the operator acting for itself", sign: (aud, m) => asService(operatorName, aud, m, "service") },
  { name: "forged (another key set's edge)", sign: (aud, m) => signCaller(stranger, { audience: aud, method: methodPath(m) }, userA) },
  { name: "expired", sign: (aud, m) => asEdge(aud, m, userA, Date.now() - 2 * callerTtlMs) },
  { name: "long-lived (10 min)", sign: (aud, m) => asEdge(aud, m, userA, Date.now() + 10 * 60_000) },
  {
    name: "replayed from another method",
    sign: (aud, m, siblings) => asEdge(aud, siblings.find((s) => s !== m) ?? m, userA),
  },
  { name: "for another service (wrong audience)", sign: (aud, m) => asEdge(otherService(aud), m, userA) },
  { name: "the edge claiming to be a service", sign: (aud, m) => asEdge(aud, m, "service") },
  { name: "old v1 format", sign: () => `v1.${userA}.9999999999999.AAAA` },
];

const refusedAll = { forged: "unauthenticated", expired: "unauthenticated", long: "unauthenticated", replay: "unauthenticated", audience: "unauthenticated", edgeService: "unauthenticated", v1: "unauthenticated" } as const;

/** Per access level, the outcome for each caller case (same order as `cases`), and through the edge. */
const expected: Record<string, { direct: readonly Outcome[]; edgeAnonymous: Outcome | "not_routed"; edgeUser: Outcome | "not_routed" }> = {
  [Access.PUBLIC]: {
    direct: ["allowed", "allowed", "allowed", "allowed", "allowed", "allowed", ...Object.values(refusedAll)],
    edgeAnonymous: "allowed",
    edgeUser: "allowed",
  },
  [Access.USER]: {
    direct: ["unauthenticated", "unauthenticated", "allowed", "allowed", "unauthenticated", "unauthenticated", ...Object.values(refusedAll)],
    edgeAnonymous: "unauthenticated",
    edgeUser: "allowed",
  },
  [Access.INTERNAL]: {
    direct: ["permission_denied", "permission_denied", "permission_denied", "permission_denied", "allowed", "allowed", ...Object.values(refusedAll)],
    edgeAnonymous: "not_routed",
    edgeUser: "not_routed",
  },
  // Admins only: the operator identity (kit/auth.ts), or a signed-in user (assertions
  // carry no roles) whom the owning service then refuses unless an admin (NOT_ADMIN); the
  // edge checks the token's admin role. No matrix user is an admin.
  [Access.ADMIN]: {
    direct: ["unauthenticated", "unauthenticated", "permission_denied", "permission_denied", "unauthenticated", "allowed", ...Object.values(refusedAll)],
    edgeAnonymous: "unauthenticated",
    edgeUser: "permission_denied",
  },
  // Moderators (and admins) only: like ACCESS_ADMIN, the owning service asks identity for
  // the user's roles (NOT_MODERATOR) and the edge checks the token's. No matrix user is one.
  [Access.MODERATOR]: {
    // The operator passes ACCESS_ADMIN only (kit/auth.ts): acting for itself it is no
    // signed-in user, so a moderator method refuses it as unauthenticated.
    direct: ["unauthenticated", "unauthenticated", "permission_denied", "permission_denied", "unauthenticated", "unauthenticated", ...Object.values(refusedAll)],
    edgeAnonymous: "unauthenticated",
    edgeUser: "permission_denied",
  },
};
expected[Access.UNSPECIFIED] = expected[Access.USER]!;

/** The kit's refusals (kit/auth.ts), told apart from a handler's own answers by code and message. */
function outcomeOf(err: unknown): Outcome {
  if (err === undefined) return "allowed";
  const e = ConnectError.from(err);
  if (e.code === Code.Unauthenticated && /invalid mesh credential|requires a signed-in user/.test(e.rawMessage)) return "unauthenticated";
  if (e.code === Code.PermissionDenied && /internal to the mesh/.test(e.rawMessage)) return "permission_denied";
  if (e.code === Code.PermissionDenied && (errorReason(e) === "NOT_ADMIN" || errorReason(e) === "NOT_MODERATOR")) return "permission_denied";
  if (e.code === Code.Unavailable || e.code === Code.DeadlineExceeded || e.code === Code.Internal) throw e;
  return "allowed";
}

let mesh: TestMesh;
const transports = new Map<string, Transport>();
let token = "";
const services: DescService[] = edgeServices.filter((s) => meshTable.some((e) => e.name === audienceOf(s.typeName)));
const deployed = meshTable.filter((e) => existsSync(join(root, "services", e.name, "main.ts"))).map((e) => e.name);

beforeAll(async () => {
  mesh = await startTestMesh({ services: deployed, edge: true, env: { OASIS_IDENTITY_PASSWORD_MEMORY_KIB: "1024" } });
  const post = (path: string, body: unknown) =>
    fetch(`${mesh.url("edge")}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  expect((await post("/v1/accounts", { handle: "reed_matrix", email: "matrix@reed.example", password: "correct horse battery" })).status).toBe(200);
  token = await signIn();
  expect(token.length).toBeGreaterThan(20);
}, 240_000);
afterAll(() => mesh?.stop());

/** A new session for the matrix's user, through the edge; its access token. */
async function signIn(): Promise<string> {
  const res = await fetch(`${mesh.url("edge")}/v1/sessions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ login: "reed_matrix", password: "correct horse battery" }),
  });
  return ((await res.json()) as { accessToken: string }).accessToken;
}

/** Calls `method` on its service's port with `caller` as the `oasis-caller` header (none if undefined). */
async function direct(audience: string, method: DescMethod, caller: string | undefined): Promise<Outcome> {
  let transport = transports.get(audience);
  if (!transport) {
    transport = createConnectTransport({ baseUrl: mesh.url(audience), httpVersion: "2", useBinaryFormat: true, defaultTimeoutMs: 20_000 });
    transports.set(audience, transport);
  }
  const headers: Record<string, string> = caller === undefined ? {} : { [callerHeader]: caller };
  const client = createClient(method.parent, transport) as unknown as Record<string, (req: object, opts?: object) => unknown>;
  const fn = client[method.localName]!;
  try {
    if (method.methodKind === "unary") {
      await fn({}, { headers });
    } else if (method.methodKind === "server_streaming") {
      const abort = new AbortController();
      // The first message (or the refusal) is enough; then hang up.
      for await (const _ of fn({}, { headers, signal: abort.signal }) as AsyncIterable<unknown>) break;
      abort.abort();
    } else {
      throw new Error(`${method.name}: ${method.methodKind} methods need a case in this test`);
    }
    return "allowed";
  } catch (err) {
    return outcomeOf(err);
  }
}

/** Calls a unary method through the edge as Connect JSON; "not_routed" when the edge has no public route for it. */
async function viaEdge(method: DescMethod, bearer: string | undefined): Promise<Outcome | "not_routed"> {
  const res = await fetch(`${mesh.url("edge")}/${methodPath(method)}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
    body: "{}",
  });
  const body = (await res.json()) as { code?: string; message?: string };
  if (res.status === 404 && body.code === "not_found" && body.message?.startsWith("no route")) return "not_routed";
  if (res.status === 401) return "unauthenticated";
  if (res.status === 403) return "permission_denied";
  if (res.status >= 500) throw new Error(`${method.name} via the edge: ${res.status} ${JSON.stringify(body)}`);
  return "allowed";
}

test("every service of mesh.config.ts has its contract in the matrix, and every level a row", () => {
  expect([...new Set(services.map((s) => audienceOf(s.typeName)))].sort()).toEqual(deployed.slice().sort());
  for (const s of services) for (const m of s.methods) expect({ method: m.name, level: expected[methodAccess(m)] !== undefined }).toEqual({ method: m.name, level: true });
});

test("every method, every caller, on every service port: the access level decides, and every bad credential is refused", async () => {
  const seen: string[] = [];
  const wrong: string[] = [];
  for (const s of services) {
    const audience = audienceOf(s.typeName)!;
    await Promise.all(
      s.methods.map(async (m) => {
        const want = expected[methodAccess(m)]!;
        for (const [i, c] of cases.entries()) {
          const got = await direct(audience, m, c.sign(audience, m, s.methods));
          seen.push(`${audience} ${m.name} ${c.name}`);
          if (got !== want.direct[i]) wrong.push(`${s.typeName}/${m.name} [${Access[methodAccess(m)]}] ${c.name}: got ${got}, want ${want.direct[i]}`);
        }
      }),
    );
  }
  console.log(`authorization matrix on service ports: ${seen.length} calls (${services.length} services, ${cases.length} callers each), ${wrong.length} wrong`);
  expect(wrong).toEqual([]);
  expect(seen.length).toBe(services.reduce((n, s) => n + s.methods.length, 0) * cases.length);
});

test("AdminService, which the kit serves on every service's port: the operator identity only", async () => {
  const wrong: string[] = [];
  let calls = 0;
  for (const audience of deployed) {
    await Promise.all(
      AdminService.methods.map(async (m) => {
        expect(methodAccess(m)).toBe(Access.ADMIN);
        const want = expected[Access.ADMIN]!;
        for (const [i, c] of cases.entries()) {
          const got = await direct(audience, m, c.sign(audience, m, AdminService.methods));
          calls++;
          if (got !== want.direct[i]) wrong.push(`${audience} ${m.name} ${c.name}: got ${got}, want ${want.direct[i]}`);
        }
      }),
    );
    // Never routed by the edge: it is not one of the edge's contracts.
    expect(await viaEdge(AdminService.methods[0]!, token)).toBe("not_routed");
  }
  console.log(`authorization matrix of AdminService: ${calls} calls, ${wrong.length} wrong`);
  expect(calls).toBe(deployed.length * AdminService.methods.length * cases.length);
  expect(wrong).toEqual([]);
});

test("through the edge: anonymous and signed-in calls get what the access level says; internal methods are not routed", async () => {
  const wrong: string[] = [];
  let calls = 0;
  // Methods that may end the caller's own session (RevokeAllSessions with an empty body
  // signs out everywhere) go last, each followed by a fresh sign-in, so they do not turn
  // every later call into a 401.
  const endsSession = new Set(["RevokeAllSessions", "RevokeSession", "ChangePassword"]);
  const routed = services.flatMap((s) => s.methods.filter((x) => x.methodKind === "unary" && !edgeOwnedPaths.has(`/${methodPath(x)}`)));
  for (const m of [...routed.filter((x) => !endsSession.has(x.name)), ...routed.filter((x) => endsSession.has(x.name))]) {
    const want = expected[methodAccess(m)]!;
    for (const [label, w] of [["anonymous", want.edgeAnonymous], ["user", want.edgeUser]] as const) {
      const got = await viaEdge(m, label === "user" ? token : undefined);
      calls++;
      if (got !== w) wrong.push(`${m.parent.typeName}/${m.name} [${Access[methodAccess(m)]}] ${label}: got ${got}, want ${w}`);
    }
    if (endsSession.has(m.name)) token = await signIn();
  }
  console.log(`authorization matrix through the edge: ${calls} calls, ${wrong.length} wrong`);
  expect(wrong).toEqual([]);
});

test("who blocked me is not listed to the app: ListRelationships through the edge withholds blocked_by (edge/withheld.ts); a mesh caller still gets it, and the per-user answer keeps it", async () => {
  const edge = mesh.url("edge");
  const json = (path: string, bearer?: string, body?: unknown) =>
    fetch(`${edge}${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { "content-type": "application/json", ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  expect((await json("/v1/accounts", undefined, { handle: "reed_blocker", email: "blocker@reed.example", password: "correct horse battery" })).status).toBe(200);
  const blocker = ((await (await json("/v1/sessions", undefined, { login: "reed_blocker", password: "correct horse battery" })).json()) as { accessToken: string }).accessToken;
  const me = await signIn();
  const idOf = async (handle: string) => ((await (await json(`/v1/handles/${handle}`)).json()) as { profile: { userId: string } }).profile.userId;
  const [myId, blockerId] = [await idOf("reed_matrix"), await idOf("reed_blocker")];
  expect((await json(`/v1/users/${myId}:block`, blocker, {})).status).toBe(200);
  // The app's list (REST and Connect JSON): no entry names the blocker, none says blocked_by.
  const rest = (await (await json("/v1/relationships?page_size=1000", me)).json()) as { relationships?: Array<Record<string, unknown>> };
  const connect = (await (await json(`/${methodPath(GraphService.method.listRelationships)}`, me, {})).json()) as { relationships?: Array<Record<string, unknown>> };
  for (const page of [rest, connect]) {
    expect((page.relationships ?? []).filter((r) => r.userId === blockerId || r.blockedBy !== undefined)).toEqual([]);
  }
  // The per-user answer, for a user the app names: blocked_by, as Bluesky's viewer.blockedBy.
  const one = (await (await json(`/v1/relationships:batchGet?user_ids=${blockerId}`, me)).json()) as { relationships: Array<Record<string, unknown>> };
  expect(one.relationships).toEqual([{ userId: blockerId, blockedBy: true }]);
  // A mesh caller (the edge's page path, which keeps blockers' posts out of my pages) gets it.
  const graph = createClient(GraphService, createConnectTransport({ baseUrl: mesh.url("graph"), httpVersion: "2", useBinaryFormat: true, defaultTimeoutMs: 20_000 }));
  const listed = await graph.listRelationships({ pageSize: 1000 }, { headers: { [callerHeader]: asEdge("graph", GraphService.method.listRelationships, BigInt(myId)) } });
  expect(listed.relationships.filter((r) => String(r.userId) === blockerId).map((r) => r.blockedBy)).toEqual([true]);
}, 60_000);

test("a process refuses to start without its mesh key, or with a known default, outside dev mode; in dev mode, on anything but 127.0.0.1", async () => {
  const names = [...deployed, "edge"];
  const entry = (n: string) => (n === "edge" ? join(root, "edge", "main.ts") : join(root, "services", n, "main.ts"));
  const run = async (n: string, env: Record<string, string | undefined>) => {
    const proc = Bun.spawn([process.execPath, bundleFor(entry(n)) ?? entry(n)], { env, stdout: "pipe", stderr: "pipe" });
    // A process that does not refuse keeps running: killed here, it fails the checks below.
    const timer = setTimeout(() => proc.kill(), 90_000);
    const [code, err, out] = await Promise.all([proc.exited, new Response(proc.stderr).text(), new Response(proc.stdout).text()]);
    clearTimeout(timer);
    return { code, text: err + out };
  };
  // A few at a time: each is a Bun start-up, and the machine is shared.
  const jobs = names.flatMap((n) => {
    const base = { ...mesh.env, OASIS_DEV: undefined, [`OASIS_${n.toUpperCase()}_PORT`]: "0", OASIS_EDGE_PORT: "0" };
    return [
      () => run(n, { ...base, [meshKeyVar(n)]: undefined }).then((r) => ({ n, why: "missing", ...r })),
      () => run(n, { ...base, [meshKeyVar(n)]: "change-me" }).then((r) => ({ n, why: "change-me", ...r })),
      // Dev mode (no real key, open reflection) refuses any address but loopback.
      () => run(n, { ...base, [meshKeyVar(n)]: undefined, OASIS_DEV: "1", OASIS_HOST: "0.0.0.0" }).then((r) => ({ n, why: "dev mode on 0.0.0.0", ...r })),
    ];
  });
  const results: Array<{ n: string; why: string; code: number; text: string }> = [];
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      for (let job = jobs.shift(); job; job = jobs.shift()) results.push(await job());
    }),
  );
  expect(results.length).toBe(names.length * 3);
  for (const r of results) {
    expect({ n: r.n, why: r.why, exited: r.code !== 0 }).toEqual({ n: r.n, why: r.why, exited: true });
    const reason = r.why === "dev mode on 0.0.0.0" ? "binds 127.0.0.1 only" : meshKeyVar(r.n);
    expect({ n: r.n, why: r.why, says: r.text.includes(reason) }).toEqual({ n: r.n, why: r.why, says: true });
  }
}, 400_000);
