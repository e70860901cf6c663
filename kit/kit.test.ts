/** Unit tests of the kit's pure parts: ids, page tokens, caller assertions, errors, SQL splitting. */
import { describe, expect, test } from "bun:test";
import { Code, ConnectError } from "@connectrpc/connect";
import { ErrorReason, ErrorReasonSchema } from "#gen/oasis/identity/v1/errors_pb.ts";
import { cachedCaller, callerTtlMs, createCallerVerifier, maxClockSkewMs, signCaller, verifyCaller } from "./auth.ts";
import { listenHost } from "./config.ts";
import { generateMeshKeys, meshIdentityFrom } from "./mesh-keys.ts";
import { domainErrors, errorReason, reasonName, violatedFields } from "./errors.ts";
import { createIdGenerator, idTimeMs, minIdAt, oasisEpochMs } from "./ids.ts";
import { splitStatements } from "./mysql.ts";
import { decodePageToken, encodePageToken, pageSize } from "./page-token.ts";
import { parseTraceparent } from "./call-context.ts";

describe("ids", () => {
  test("strictly increasing, time-ordered, 64-bit, and unique across workers", () => {
    let now = oasisEpochMs + 1_000;
    const a = createIdGenerator(1, () => now);
    const b = createIdGenerator(2, () => now);
    const seen = new Set<bigint>();
    let last = 0n;
    for (let i = 0; i < 10_000; i++) {
      const id = a.next();
      expect(id > last).toBe(true);
      last = id;
      seen.add(id);
      seen.add(b.next());
    }
    expect(seen.size).toBe(20_000);
    expect(idTimeMs(last)).toBeGreaterThanOrEqual(now);
    now -= 500; // the clock steps back: still increasing
    expect(a.next() > last).toBe(true);
    expect(minIdAt(oasisEpochMs + 5_000) < createIdGenerator(0, () => oasisEpochMs + 5_000).next() + 1n).toBe(true);
    expect(() => createIdGenerator(1024)).toThrow();
  });
});

describe("page tokens", () => {
  test("round-trip, scoped, and reject garbage with invalid_argument on page_token", () => {
    const t = encodePageToken("followers:42", [123456789012345678n, "x", 7]);
    expect(decodePageToken("followers:42", t)).toEqual([123456789012345678n, "x", 7]);
    expect(decodePageToken("followers:42", "")).toBeUndefined();
    for (const bad of [t.slice(0, -3), "not-a-token", encodePageToken("following:42", [1n])]) {
      let err: unknown;
      try {
        decodePageToken("followers:42", bad);
      } catch (e) {
        err = e;
      }
      expect(ConnectError.from(err).code).toBe(Code.InvalidArgument);
      expect(violatedFields(err)).toEqual(["page_token"]);
    }
    expect(pageSize(0, 50, 1000)).toBe(50);
    expect(pageSize(5000, 50, 1000)).toBe(1000);
    expect(() => pageSize(-1, 50, 1000)).toThrow();
  });
});

describe("caller assertions", () => {
  // A deployer's key set for this test only: the edge, graph, feed and media.
  const keys = generateMeshKeys(["edge", "graph", "feed", "media"]);
  const edge = meshIdentityFrom(keys, "edge");
  const graph = meshIdentityFrom(keys, "graph");
  const feed = meshIdentityFrom(keys, "feed");
  const follow = { audience: "graph", method: "oasis.graph.v1.GraphService/Follow" };
  const m = follow.method;
  const user = 118840942673145856n;

  test("verify only what a known process signed for this service and method, until it expires", () => {
    const v = signCaller(edge, follow, user, 1_000);
    expect(verifyCaller(graph, v, m, 2_000)).toEqual({ userId: user, fromMesh: true, service: false, issuer: "edge" });
    expect(verifyCaller(graph, signCaller(edge, follow, null, 1_000), m, 2_000)).toEqual({ userId: null, fromMesh: true, service: false, issuer: "edge" });
    expect(verifyCaller(graph, signCaller(feed, follow, "service", 1_000), m, 2_000)).toEqual({ userId: null, fromMesh: true, service: true, issuer: "feed" });
    expect(verifyCaller(graph, null, m)).toBeNull();
    // Forged: another key set's edge, an edited user, an edited issuer.
    const stranger = meshIdentityFrom(generateMeshKeys(["edge", "graph"]), "edge");
    expect(() => verifyCaller(graph, signCaller(stranger, follow, user, 1_000), m, 2_000)).toThrow("signature does not verify");
    expect(() => verifyCaller(graph, v.replace(`:${user}:`, ":1:"), m, 2_000)).toThrow("signature does not verify");
    expect(() => verifyCaller(graph, v.replace("v2:edge:", "v2:feed:"), m, 2_000)).toThrow("signature does not verify");
    // Replayed to another method or another service.
    expect(() => verifyCaller(graph, v, "oasis.graph.v1.GraphService/Block", 2_000)).toThrow("issued for oasis.graph.v1.GraphService/Follow");
    expect(() => verifyCaller(feed, v, m, 2_000)).toThrow("issued for graph, not feed");
    // Expired, and valid for too long (a 10-year assertion, as once accepted).
    expect(() => verifyCaller(graph, v, m, 1_000 + callerTtlMs)).toThrow("expired");
    expect(() => verifyCaller(graph, signCaller(edge, follow, user, 1_000), m, 1_000 - maxClockSkewMs - 1)).toThrow("valid for longer");
    // Malformed, the old v1 format, and an unknown issuer.
    for (const bad of ["v1.42.9999999999999.AAAA", "v2:edge", `${v}:x`, v.replace(/:[0-9]+:([^:]+)$/, ":1e20:$1")]) {
      expect(() => verifyCaller(graph, bad, m, 2_000)).toThrow("invalid mesh credential");
    }
    expect(() => verifyCaller(graph, v.replace("v2:edge:", "v2:ghost:"), m, 2_000)).toThrow("unknown issuer");
    // The edge acts only for end users.
    expect(() => verifyCaller(graph, signCaller(edge, follow, "service", 1_000), m, 2_000)).toThrow("the edge acts only for end users");
  });

  test("cached signing reuses an assertion for half its life; the cached verifier still refuses it for another method or once expired", () => {
    const a = cachedCaller(edge, follow, user);
    expect(cachedCaller(edge, follow, user)).toBe(a);
    expect(cachedCaller(edge, follow, null)).not.toBe(a);
    expect(cachedCaller(edge, { ...follow, method: "oasis.graph.v1.GraphService/Block" }, user)).not.toBe(a);
    const verify = createCallerVerifier(graph);
    const now = Date.now();
    expect(verify(a, m, now)?.userId).toBe(user);
    expect(verify(a, m, now)?.userId).toBe(user);
    expect(() => verify(a, "oasis.graph.v1.GraphService/Block", now)).toThrow("issued for oasis.graph.v1.GraphService/Follow");
    expect(() => verify(a, m, now + callerTtlMs + 1)).toThrow("expired");
    expect(() => verify(a.slice(0, -2) + "AA", m, now)).toThrow("invalid mesh credential");
  });

  test("a key rotation in four rolls never refuses a call between an old and a new process", () => {
    // A is rotated; B is everyone else. Each step's processes, and those of the step
    // before (a roll is not atomic), must accept each other's assertions both ways.
    const [a1, a2] = [generateMeshKeys(["a"]), generateMeshKeys(["a"])];
    const b = generateMeshKeys(["b"]);
    const pub = (k: Record<string, string>) => k.OASIS_MESH_PUBLIC_KEYS!.split(",").find((e) => e.startsWith("a="))!;
    const bPub = b.OASIS_MESH_PUBLIC_KEYS!;
    const envs = [
      { OASIS_MESH_KEY_A: a1.OASIS_MESH_KEY_A, list: `${pub(a1)},${bPub}` },
      { OASIS_MESH_KEY_A: `${a1.OASIS_MESH_KEY_A},${a2.OASIS_MESH_KEY_A}`, list: `${pub(a1)},${bPub}` },
      { OASIS_MESH_KEY_A: `${a1.OASIS_MESH_KEY_A},${a2.OASIS_MESH_KEY_A}`, list: `${pub(a2)},${pub(a1)},${bPub}` },
      { OASIS_MESH_KEY_A: `${a2.OASIS_MESH_KEY_A},${a1.OASIS_MESH_KEY_A}`, list: `${pub(a2)},${pub(a1)},${bPub}` },
      { OASIS_MESH_KEY_A: a2.OASIS_MESH_KEY_A, list: `${pub(a2)},${bPub}` },
    ];
    const ids = envs.map((e) => ({
      a: meshIdentityFrom({ OASIS_MESH_KEY_A: e.OASIS_MESH_KEY_A, OASIS_MESH_PUBLIC_KEYS: e.list }, "a"),
      b: meshIdentityFrom({ OASIS_MESH_KEY_B: b.OASIS_MESH_KEY_B, OASIS_MESH_PUBLIC_KEYS: e.list }, "b"),
    }));
    const call = (from: typeof edge, to: typeof edge) => {
      const method = "oasis.b.v1.B/Get";
      return verifyCaller(to, signCaller(from, { audience: to.name, method }, user), method)?.userId;
    };
    for (let i = 1; i < ids.length; i++) {
      for (const [x, y] of [[ids[i - 1]!, ids[i]!], [ids[i]!, ids[i - 1]!], [ids[i]!, ids[i]!]] as const) {
        expect({ step: i, ab: call(x.a, y.b), ba: call(y.b, x.a) }).toEqual({ step: i, ab: user, ba: user });
      }
    }
    // Skipping a roll does fail: the first and the last setting share no key.
    expect(() => call(ids[0]!.a, ids[4]!.b)).toThrow("signature does not verify");
    // A signing key the others do not know is refused at start.
    expect(() => meshIdentityFrom({ OASIS_MESH_KEY_A: `${a2.OASIS_MESH_KEY_A},${a1.OASIS_MESH_KEY_A}`, OASIS_MESH_PUBLIC_KEYS: `${pub(a1)},${bPub}` }, "a")).toThrow("does not match");
  });

  test("a process without its key, or with a known default, does not get an identity (outside dev mode)", () => {
    const withoutGraph: Record<string, string> = { ...keys };
    delete withoutGraph.OASIS_MESH_KEY_GRAPH;
    expect(() => meshIdentityFrom(withoutGraph, "graph")).toThrow("OASIS_MESH_KEY_GRAPH is not set");
    for (const known of ["change-me", "oasis-dev-mesh-secret-change-me", Buffer.alloc(32).toString("base64url")]) {
      expect(() => meshIdentityFrom({ ...keys, OASIS_MESH_KEY_GRAPH: known }, "graph")).toThrow();
      expect(() => meshIdentityFrom({ ...keys, OASIS_MESH_KEY_GRAPH: known, OASIS_DEV: "1" }, "graph")).toThrow();
    }
    // Another process's key under graph's name does not match graph's public key.
    expect(() => meshIdentityFrom({ ...keys, OASIS_MESH_KEY_GRAPH: keys.OASIS_MESH_KEY_FEED }, "graph")).toThrow("does not match");
    // Dev mode: a random key of its own, loopback only.
    const dev = meshIdentityFrom({ ...withoutGraph, OASIS_DEV: "1" }, "graph");
    expect(dev.dev).toBe(true);
    expect(() => verifyCaller(dev, signCaller(edge, follow, user), m)).toThrow("signature does not verify");
    expect(listenHost({ OASIS_DEV: "1" })).toBe("127.0.0.1");
    expect(() => listenHost({ OASIS_DEV: "1", OASIS_HOST: "0.0.0.0" })).toThrow("127.0.0.1 only");
    expect(listenHost({})).toBe("0.0.0.0");
  });
});

describe("errors", () => {
  test("ErrorInfo carries the reason without its enum prefix and the domain", () => {
    expect(reasonName(ErrorReasonSchema, ErrorReason.HANDLE_TAKEN)).toBe("HANDLE_TAKEN");
    const errors = domainErrors<ErrorReason>("identity", ErrorReasonSchema);
    const err = errors.alreadyExists(ErrorReason.HANDLE_TAKEN, "taken", { handle: "reed_1" });
    expect(err.code).toBe(Code.AlreadyExists);
    expect(errorReason(err)).toBe("HANDLE_TAKEN");
  });
});

describe("traceparent", () => {
  test("parses version 00 and rejects all-zero ids", () => {
    expect(parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")).toEqual({
      traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
      parentId: "00f067aa0ba902b7",
    });
    expect(parseTraceparent("00-00000000000000000000000000000000-00f067aa0ba902b7-01")).toBeUndefined();
    expect(parseTraceparent("garbage")).toBeUndefined();
  });
});

describe("migrations", () => {
  test("split into statements at line-ending semicolons, comments dropped", () => {
    const sql = "-- a table\nCREATE TABLE a (x INT);\n\n-- another\nCREATE TABLE b (\n  y VARCHAR(3) DEFAULT ';'\n);\n";
    expect(splitStatements(sql)).toEqual(["CREATE TABLE a (x INT)", "CREATE TABLE b (\n  y VARCHAR(3) DEFAULT ';'\n)"]);
  });
});
