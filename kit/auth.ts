/**
 * Who is calling, inside the mesh.
 *
 * The edge authenticates the end user (bearer JWT) and forwards the caller to a service
 * as an assertion in the `oasis-caller` header, bound to the issuing process, the target
 * service (audience) and the method, with a short expiry:
 *
 *     v2:<issuer>:<audience>:<package.Service/Method>:<who>:<expiry, ms since epoch>:<mac>
 *
 * where <who> is a user id, "-" for an anonymous end user, or "~" for a service acting on
 * its own behalf (event handlers, jobs), and <mac> is base64url HMAC-SHA256 of everything
 * before it under the pairwise key K(issuer->audience) (kit/mesh-keys.ts: each process
 * has its own X25519 key; the pair key comes from Diffie-Hellman, so no secret is shared
 * by the whole mesh).
 *
 * A service verifies the assertion on every call and trusts nothing else: it is refused
 * (`unauthenticated`) when forged, malformed, for another service or method, expired, or
 * valid for longer than `callerTtlMs`; a bare user id header from outside the mesh is
 * ignored. A service calling another signs a fresh assertion for the user it is acting
 * for (or "~" for itself), so the viewer follows a request through feed -> post -> media
 * without any service holding a user's token. The edge acts only for end users: an
 * assertion of "~" issued by the edge is refused. HMAC rather than a signature per hop
 * because it costs ~1 us, not ~12 us to sign and ~43 us to verify (Ed25519, measured in
 * bench/mesh-auth.ts).
 *
 * Which methods need what is declared in the contracts with `(oasis.api.v1.access)`
 * (proto/oasis/api/v1/access.proto) and enforced here for every call; internal methods
 * accept only service callers ("~"), never a forwarded user.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { getOption, type DescMethod } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { Access, access } from "#gen/oasis/api/v1/access_pb.ts";
import { mesh } from "../mesh.config.ts";
import type { Caller } from "./call-context.ts";
import type { MeshIdentity } from "./mesh-keys.ts";

export { Access };
export type { MeshIdentity };

export const callerHeader = "oasis-caller";

/**
 * How long a signed assertion stays valid, and the longest validity a service accepts.
 * It is checked when a call arrives (a stream is not checked again), so it needs to
 * cover only the time between signing and arrival, retries included (a call's deadline
 * is at most 60 s, kit/server.ts), plus clock skew.
 */
export const callerTtlMs = 60_000;

/** Clock skew between hosts tolerated on top of `callerTtlMs`. */
export const maxClockSkewMs = 5_000;

/** The process name of the edge, which may assert end users but never a service. */
export const edgeName = "edge";

/**
 * The operators' mesh identity (`bun run admin`, the demo's ledger audit): a key of its
 * own, held by the people who run the mesh, never by a service. Acting for itself it
 * passes ACCESS_ADMIN as well as ACCESS_INTERNAL: the key is the operator's credential.
 */
export const operatorName = "operator";

/** True for a call signed by the operator identity acting for itself. */
export function isOperator(caller: Caller): boolean {
  return caller.service && caller.issuer === operatorName;
}

/** Who an assertion speaks for: a user id, an anonymous end user (null), or the calling service itself. */
export type CallerWho = bigint | null | "service";

/** The service and method an assertion is for. */
export interface AssertionTarget {
  /** Mesh name of the service called, e.g. "graph". */
  readonly audience: string;
  /** `package.Service/Method`, e.g. `oasis.graph.v1.GraphService/Follow`. */
  readonly method: string;
}

/**
 * The mesh service that serves a Protobuf service type name: the mesh.config.ts entry
 * whose package it is in, else the second segment of an `oasis.<name>.v1` name (test
 * services), else undefined.
 */
export function audienceOf(serviceTypeName: string): string | undefined {
  const pkg = serviceTypeName.slice(0, serviceTypeName.lastIndexOf("."));
  const entry = mesh.find((e) => e.protoPackage === pkg);
  if (entry) return entry.name;
  const [root, name] = serviceTypeName.split(".");
  return root === "oasis" && name ? name : undefined;
}

/** `package.Service/Method` of a method descriptor, as assertions name it. */
export function methodPath(method: DescMethod): string {
  return `${method.parent.typeName}/${method.name}`;
}

function mac(key: Buffer, payload: string): Buffer {
  return createHmac("sha256", key).update(payload).digest();
}

/**
 * Signs a caller assertion from `identity` to `target.audience` for `target.method`: for
 * a user, an anonymous end user (`null`), or the calling service itself (`"service"`).
 * Throws when the audience's public key is unknown (a configuration error).
 */
export function signCaller(identity: MeshIdentity, target: AssertionTarget, who: CallerWho, nowMs = Date.now()): string {
  const key = identity.sendKey(target.audience);
  if (!key) throw new Error(`no mesh public key for "${target.audience}" in OASIS_MESH_PUBLIC_KEYS`);
  const id = who === null ? "-" : who === "service" ? "~" : who.toString();
  const payload = `v2:${identity.name}:${target.audience}:${target.method}:${id}:${nowMs + callerTtlMs}`;
  return `${payload}:${mac(key, payload).toString("base64url")}`;
}

/**
 * Verifies an assertion received by `identity` (the audience) for `method`. Returns the
 * caller, or null when the value is missing. Throws `unauthenticated` when a value is
 * present but forged, malformed, from an unknown issuer, for another audience or method,
 * expired, or valid for longer than the TTL (plus skew), so a bad credential is never
 * mistaken for an anonymous call.
 */
export function verifyCaller(identity: MeshIdentity, value: string | null, method: string, nowMs = Date.now()): Caller | null {
  if (value === null || value === "") return null;
  const bad = (why: string) => new ConnectError(`invalid mesh credential: ${why}`, Code.Unauthenticated);
  const parts = value.split(":");
  if (parts.length !== 7 || parts[0] !== "v2") throw bad("malformed");
  const [, issuer, audience, assertedMethod, who, exp, sig] = parts as [string, string, string, string, string, string, string];
  if (audience !== identity.name) throw bad(`issued for ${audience}, not ${identity.name}`);
  if (assertedMethod !== method) throw bad(`issued for ${assertedMethod}, not ${method}`);
  const keys = identity.receiveKeys(issuer);
  if (keys.length === 0) throw bad(`unknown issuer ${issuer.slice(0, 32)}`);
  const signed = value.slice(0, value.length - sig.length - 1);
  const given = Buffer.from(sig, "base64url");
  // One key, or two during a key rotation (kit/mesh-keys.ts).
  const verifies = (key: Buffer) => {
    const expected = mac(key, signed);
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  if (!keys.some(verifies)) throw bad("signature does not verify");
  if (!/^[0-9]{1,15}$/.test(exp)) throw bad("malformed expiry");
  const expMs = Number(exp);
  if (expMs <= nowMs) throw bad("expired");
  if (expMs > nowMs + callerTtlMs + maxClockSkewMs) throw bad(`valid for longer than ${callerTtlMs} ms`);
  if (who === "-") return { userId: null, fromMesh: true, service: false, issuer };
  if (who === "~") {
    if (issuer === edgeName) throw bad("the edge acts only for end users");
    return { userId: null, fromMesh: true, service: true, issuer };
  }
  if (!/^[1-9][0-9]{0,18}$/.test(who)) throw bad("malformed caller");
  return { userId: BigInt(who), fromMesh: true, service: false, issuer };
}

/** Entries a signer or verifier cache keeps before starting over (~200 bytes each). */
const cacheLimit = 20_000;

/**
 * Like `signCaller`, but reuses the assertion signed for the same (audience, method,
 * caller) for the first half of its validity: a busy caller then signs each distinct
 * call shape about once per 30 s instead of once per call. Every reused value still
 * expires within `callerTtlMs` of its signing, so it widens no replay window.
 */
export function cachedCaller(identity: MeshIdentity, target: AssertionTarget, who: CallerWho): string {
  let cache = signed.get(identity);
  if (!cache) signed.set(identity, (cache = new Map()));
  const key = `${target.audience}\n${target.method}\n${who === null ? "-" : who === "service" ? "~" : who}`;
  const now = Date.now();
  const hit = cache.get(key);
  if (hit && hit.reuseUntilMs > now) return hit.value;
  if (cache.size >= cacheLimit) cache.clear();
  const value = signCaller(identity, target, who, now);
  cache.set(key, { value, reuseUntilMs: now + callerTtlMs / 2 });
  return value;
}

const signed = new WeakMap<MeshIdentity, Map<string, { value: string; reuseUntilMs: number }>>();

/**
 * `verifyCaller` for one server, remembering assertions it verified until they expire:
 * a repeated assertion (see `cachedCaller`) costs a map lookup and a comparison of the
 * method and expiry, not an HMAC. Refusals are not cached.
 */
export function createCallerVerifier(identity: MeshIdentity): (value: string | null, method: string, nowMs?: number) => Caller | null {
  const verified = new Map<string, { caller: Caller; method: string; expMs: number }>();
  return (value, method, nowMs = Date.now()) => {
    if (value === null || value === "") return null;
    const hit = verified.get(value);
    if (hit && hit.method === method && hit.expMs > nowMs) return hit.caller;
    const caller = verifyCaller(identity, value, method, nowMs);
    if (caller) {
      if (verified.size >= cacheLimit) verified.clear();
      const parts = value.split(":");
      verified.set(value, { caller, method, expMs: Number(parts[5]) });
    }
    return caller;
  };
}

/**
 * The access level a method declares. Methods of our own `oasis.*` packages default to
 * ACCESS_USER (closed unless opened); third-party services we serve (health,
 * reflection) are public.
 */
export function methodAccess(method: DescMethod): Access {
  // Reading an option decodes the method's options; it is asked on every call.
  let level = accessCache.get(method);
  if (level === undefined) {
    level = declaredAccess(method);
    accessCache.set(method, level);
  }
  return level;
}

const accessCache = new WeakMap<DescMethod, Access>();

function declaredAccess(method: DescMethod): Access {
  const declared = getOption(method, access);
  if (declared !== Access.UNSPECIFIED) return declared;
  return method.parent.typeName.startsWith("oasis.") ? Access.USER : Access.PUBLIC;
}

/** Throws unless `caller` may call a method with access level `level`. */
export function checkAccess(level: Access, caller: Caller, methodName: string): void {
  // Internal methods serve services acting for themselves, never a forwarded user.
  if (level === Access.INTERNAL && !caller.service) {
    throw new ConnectError(`${methodName} is internal to the mesh: only services acting for themselves may call it`, Code.PermissionDenied);
  }
  // ACCESS_ADMIN and ACCESS_MODERATOR: the operator identity (ACCESS_ADMIN), or a
  // signed-in user: the assertion carries no roles, so the kit only requires one; the
  // service serving the method checks that user's roles (identity's own record, or
  // identity.GetRoles; the `authorize` hook of kit/server.ts), and the edge checks the
  // token's roles.
  if (level === Access.ADMIN && isOperator(caller)) return;
  if ((level === Access.USER || level === Access.UNSPECIFIED || level === Access.ADMIN || level === Access.MODERATOR) && caller.userId === null) {
    throw new ConnectError(`${methodName} requires a signed-in user`, Code.Unauthenticated);
  }
}
