/**
 * What a mesh credential costs per hop, CPU only (no network): signing and verifying the
 * caller assertion as kit/auth.ts does now (pairwise keys from X25519 + HKDF, HMAC-SHA256,
 * bound to issuer, audience, method and expiry), against the single shared HMAC secret it
 * replaced (v1) and against Ed25519 signatures per service (the other per-service option
 * considered, docs/design-notes.md note 17). Also the one-time cost of deriving a pair key.
 *
 *     bun bench/mesh-auth.ts
 *
 * Prints microseconds per operation and the ratios, measured in one run (2 cores, shared).
 */
import { createHmac, generateKeyPairSync, sign, verify } from "node:crypto";
import { cachedCaller, createCallerVerifier, signCaller, verifyCaller } from "#kit/auth.ts";
import { generateMeshKeys, meshIdentityFrom } from "#kit/mesh-keys.ts";

const rounds = 200_000;
const user = 118840942673145856n;
const method = "oasis.graph.v1.GraphService/BatchGetRelationships";

function usPer(n: number, fn: () => void): number {
  for (let i = 0; i < Math.min(n, 5_000); i++) fn();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) fn();
  return ((performance.now() - t0) * 1000) / n;
}

const keys = generateMeshKeys(["edge", "graph"]);
const edge = meshIdentityFrom(keys, "edge");
const graph = meshIdentityFrom(keys, "graph");
const target = { audience: "graph", method };
const assertion = signCaller(edge, target, user);
const cachedVerify = createCallerVerifier(graph);

// v1: one shared secret, `v1.<who>.<exp>.<hmac>` (what kit/auth.ts did before).
const secret = "a-shared-secret-of-the-old-kind-32b";
const v1Payload = `v1.${user}.${Date.now() + 60_000}`;
const v1 = () => createHmac("sha256", secret).update(v1Payload).digest("base64url");

// Ed25519 per service over the same payload.
const ed = generateKeyPairSync("ed25519");
const payload = Buffer.from(assertion.slice(0, assertion.lastIndexOf(":")));
const edSig = sign(null, payload, ed.privateKey);

const results = {
  "v1 shared secret, sign (= verify)": usPer(rounds, v1),
  "v2 sign (signCaller)": usPer(rounds, () => signCaller(edge, target, user)),
  "v2 verify (verifyCaller)": usPer(rounds, () => verifyCaller(graph, assertion, method)),
  "v2 sign, reused (cachedCaller, what clients do)": usPer(rounds, () => cachedCaller(edge, target, user)),
  "v2 verify, remembered (createCallerVerifier)": usPer(rounds, () => cachedVerify(assertion, method)),
  "Ed25519 sign": usPer(rounds / 20, () => sign(null, payload, ed.privateKey)),
  "Ed25519 verify": usPer(rounds / 20, () => verify(null, payload, ed.publicKey, edSig)),
  "pair key derivation (X25519 + HKDF, once per peer)": usPer(200, () => meshIdentityFrom(keys, "graph").receiveKeys("edge")),
};
console.log(`mesh credential cost per operation, ${rounds} rounds (Bun ${Bun.version}, 2 cores, shared machine)`);
for (const [k, v] of Object.entries(results)) console.log(`  ${k.padEnd(52)} ${v.toFixed(2).padStart(7)} us`);
const v2 = results["v2 sign (signCaller)"] + results["v2 verify (verifyCaller)"];
const ed2 = results["Ed25519 sign"] + results["Ed25519 verify"];
const cached = results["v2 sign, reused (cachedCaller, what clients do)"] + results["v2 verify, remembered (createCallerVerifier)"];
console.log(`per repeated call shape (reused + remembered): ${cached.toFixed(2)} us`);
console.log(`per hop (sign + verify): v2 ${v2.toFixed(2)} us, v1 ${(2 * results["v1 shared secret, sign (= verify)"]).toFixed(2)} us, Ed25519 ${ed2.toFixed(2)} us (${(ed2 / v2).toFixed(1)}x v2)`);
