/**
 * Mesh identities: every process of the mesh (each service and the edge) has its own
 * X25519 key pair. The private key is the process's only secret; the public keys of all
 * of them are configuration (not secret). Two processes A and B derive the key of
 * assertions from A to B without ever exchanging a secret:
 *
 *     K(A->B) = HKDF-SHA256(ikm = X25519(A.private, B.public), salt = "oasis-mesh-v2", info = "A->B")
 *
 * (static-static Diffie-Hellman, RFC 7748 section 6.1; HKDF, RFC 5869), and B computes the
 * same value from its own private key and A's public key. Assertions are then HMAC-SHA256
 * under K(A->B) (kit/auth.ts): ~1 us to sign or verify, as cheap as the one shared secret
 * it replaces, but a process knows only the keys of the pairs it belongs to. Whoever
 * takes over the media process can speak as media and nothing else; a copy of one
 * process's env does not let anyone speak as the edge. Why not Ed25519 signatures per
 * service: measured on the 2-core dev machine (Bun 1.4.5), Ed25519 costs ~12 us to sign
 * and ~43 us to verify, HMAC-SHA256 ~1 us; the pairwise keys cost one X25519 (~40 us)
 * per peer, once per process. docs/design-notes.md note 17 has the threat model.
 *
 * Env:
 * - OASIS_MESH_KEY_<NAME> (secret): the private key of process <NAME> (e.g.
 *   OASIS_MESH_KEY_GRAPH, OASIS_MESH_KEY_EDGE), 32 bytes base64url. In Kubernetes each
 *   process's own Secret holds only its own key. During a rotation it holds two, comma
 *   separated: the first signs, both receive.
 * - OASIS_MESH_PUBLIC_KEYS (public): `name=<32 bytes base64url>` for every process, comma
 *   separated. A caller whose name is missing here is refused. A name listed twice (a
 *   rotation): senders use the first, receivers accept either.
 *
 * Rotating process A's key without a failed call (deploy/README.md): (1) A's Secret
 * "old,new", restart A; (2) list "A=new,A=old", restart everyone; (3) A's Secret
 * "new,old", restart A; (4) A's Secret "new", list "A=new", restart everyone.
 * - OASIS_DEV=1: dev mode. A missing private key is replaced by a random one for this run
 *   (the process can then only talk to itself and answer public methods); every listener
 *   binds 127.0.0.1 (kit/config.ts).
 *
 * `generateMeshKeys()` makes a fresh set; the mesh runner, the demo and every test run
 * call it, so no key exists in the source or outlives the run that made it.
 */
import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, type KeyObject } from "node:crypto";
import type { Env } from "./config.ts";

/** Who a process is in the mesh and the pairwise keys it may use. */
export interface MeshIdentity {
  /** This process's mesh name: a service of mesh.config.ts, or "edge". */
  readonly name: string;
  /** True in dev mode (OASIS_DEV=1): loopback only, reflection open. */
  readonly dev: boolean;
  /** Key of assertions this process sends to `audience`; undefined when its public key is unknown. */
  sendKey(audience: string): Buffer | undefined;
  /**
   * Keys under which `issuer` may send to this process (one, or a few during a key
   * rotation); empty when its public key is unknown.
   */
  receiveKeys(issuer: string): readonly Buffer[];
  /** The names whose public keys this process knows. */
  peers(): string[];
}

/** PKCS#8 and SPKI DER prefixes of a raw X25519 key (RFC 8410 section 7 and 4). */
const pkcs8Prefix = Buffer.from("302e020100300506032b656e04220420", "hex");
const spkiPrefix = Buffer.from("302a300506032b656e032100", "hex");

/**
 * Values that once stood in the source or the manifests (and anything of the old shared
 * secret's shape): refused wherever they appear, even in dev mode.
 */
const knownDefaults = new Set(["oasis-dev-mesh-secret-change-me", "change-me", "changeme", "secret", ""]);

/** The env variable holding process `name`'s private key. */
export function meshKeyVar(name: string): string {
  return `OASIS_MESH_KEY_${name.toUpperCase().replace(/[^A-Z0-9]/g, "_")}`;
}

function rawPrivate(key: KeyObject): Buffer {
  return Buffer.from((key.export({ format: "der", type: "pkcs8" }) as Buffer).subarray(pkcs8Prefix.length));
}

function rawPublic(key: KeyObject): Buffer {
  return Buffer.from((key.export({ format: "der", type: "spki" }) as Buffer).subarray(spkiPrefix.length));
}

function decode32(value: string, what: string): Buffer {
  if (knownDefaults.has(value.trim().toLowerCase())) throw new Error(`${what} is a known default value; generate a key (docs/design-notes.md note 17)`);
  const raw = Buffer.from(value.trim(), "base64url");
  if (raw.length !== 32 || raw.toString("base64url") !== value.trim()) throw new Error(`${what} must be 32 bytes, base64url`);
  if (raw.every((b) => b === raw[0])) throw new Error(`${what} is a constant byte string, not a generated key`);
  return raw;
}

function privateFrom(raw: Buffer): KeyObject {
  return createPrivateKey({ key: Buffer.concat([pkcs8Prefix, raw]), format: "der", type: "pkcs8" });
}

function publicFrom(raw: Buffer): KeyObject {
  return createPublicKey({ key: Buffer.concat([spkiPrefix, raw]), format: "der", type: "spki" });
}

/** Parses OASIS_MESH_PUBLIC_KEYS: `name=key,name=key`; a name listed twice keeps both, first first. */
export function parsePublicKeys(value: string | undefined): Map<string, Buffer[]> {
  const out = new Map<string, Buffer[]>();
  for (const item of (value ?? "").split(",").map((s) => s.trim()).filter(Boolean)) {
    const eq = item.indexOf("=");
    const name = item.slice(0, eq);
    if (eq <= 0 || !/^[a-z][a-z0-9_-]{0,31}$/.test(name)) throw new Error(`OASIS_MESH_PUBLIC_KEYS: "${item.slice(0, 40)}" is not name=key`);
    out.set(name, [...(out.get(name) ?? []), decode32(item.slice(eq + 1), `OASIS_MESH_PUBLIC_KEYS ${name}`)]);
  }
  return out;
}

/**
 * A fresh key pair for each of `names`, as env: OASIS_MESH_KEY_<NAME> for each and
 * OASIS_MESH_PUBLIC_KEYS for all. `base` keeps the keys it already has (adding names to
 * a running set, e.g. a test-only upstream next to the preloaded mesh).
 */
export function generateMeshKeys(names: readonly string[], base: Env = {}): Record<string, string> {
  const publics = parsePublicKeys(base.OASIS_MESH_PUBLIC_KEYS);
  const out: Record<string, string> = {};
  for (const name of names) {
    if (publics.has(name) && base[meshKeyVar(name)]) continue;
    const { privateKey, publicKey } = generateKeyPairSync("x25519");
    out[meshKeyVar(name)] = rawPrivate(privateKey).toString("base64url");
    publics.set(name, [rawPublic(publicKey)]);
  }
  out.OASIS_MESH_PUBLIC_KEYS = [...publics].flatMap(([n, ks]) => ks.map((k) => `${n}=${k.toString("base64url")}`)).join(",");
  return out;
}

/** True when OASIS_DEV asks for dev mode. */
export function devModeFrom(env: Env): boolean {
  return env.OASIS_DEV === "1" || env.OASIS_DEV === "true";
}

/**
 * The identity of process `name` from env. Throws (the process must not start) when its
 * private key is missing outside dev mode, is a known default or malformed, or does not
 * match the public key configured for `name`.
 */
export function meshIdentityFrom(env: Env, name: string): MeshIdentity {
  const dev = devModeFrom(env);
  const publics = parsePublicKeys(env.OASIS_MESH_PUBLIC_KEYS);
  const given = env[meshKeyVar(name)];
  let privs: KeyObject[];
  if (given === undefined || given === "") {
    if (!dev) {
      throw new Error(
        `${meshKeyVar(name)} is not set: every mesh process needs its own key (generate one with \`bun scripts/mesh-keys.ts\`), or set OASIS_DEV=1 for a local dev run`,
      );
    }
    privs = [generateKeyPairSync("x25519").privateKey];
  } else {
    const parts = given.split(",");
    if (parts.length > 2) throw new Error(`${meshKeyVar(name)} holds at most two keys (the current one, and the other one of a rotation)`);
    privs = parts.map((k) => privateFrom(decode32(k, meshKeyVar(name))));
  }
  const mine = rawPublic(createPublicKey(privs[0]!));
  const listed = publics.get(name);
  // The signing key must be one the others know (during a rotation, either listed one).
  if (listed && !listed.some((k) => k.equals(mine)) && (!dev || given)) {
    throw new Error(`${meshKeyVar(name)} does not match the public key of "${name}" in OASIS_MESH_PUBLIC_KEYS`);
  }
  if (!listed || (dev && !given)) publics.set(name, [mine]);
  const peerKeys = new Map([...publics].map(([n, raws]) => [n, raws.map(publicFrom)]));
  const hkdf = (priv: KeyObject, pub: KeyObject, info: string) =>
    Buffer.from(hkdfSync("sha256", diffieHellman({ privateKey: priv, publicKey: pub }), "oasis-mesh-v2", info, 32));
  const sending = new Map<string, Buffer | null>();
  const receiving = new Map<string, readonly Buffer[]>();
  return Object.freeze({
    name,
    dev,
    sendKey(audience: string) {
      let k = sending.get(audience);
      if (k === undefined) {
        const pub = peerKeys.get(audience)?.[0];
        k = pub ? hkdf(privs[0]!, pub, `${name}->${audience}`) : null;
        sending.set(audience, k);
      }
      return k ?? undefined;
    },
    receiveKeys(issuer: string) {
      let ks = receiving.get(issuer);
      if (ks === undefined) {
        const pubs = peerKeys.get(issuer) ?? [];
        ks = privs.flatMap((priv) => pubs.map((pub) => hkdf(priv, pub, `${issuer}->${name}`)));
        receiving.set(issuer, ks);
      }
      return ks;
    },
    peers: () => [...peerKeys.keys()],
  });
}
