/**
 * `bun scripts/mesh-keys.ts <dir>`: makes a deployment's mesh keys (kit/mesh-keys.ts), one
 * X25519 key per process of mesh.config.ts and the edge, plus the operators' key
 * (`operator`, kit/auth.ts: what `bun run admin` signs with; no Secret in the cluster,
 * it stays with the people who run it), and writes them OUTSIDE the repository (it
 * refuses a directory inside it):
 *
 *     <dir>/public-keys.env   OASIS_MESH_PUBLIC_KEYS=...       (not secret: a ConfigMap)
 *     <dir>/<name>.env        OASIS_MESH_KEY_<NAME>=...         (secret, mode 0600)
 *
 * then prints the kubectl commands that create the ConfigMap `oasis-mesh-public-keys`
 * and one Secret `oasis-<name>` per process (deploy/README.md adds the store URLs with
 * their passwords to the same Secrets). Rotating: run it again and roll every process.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { resolve, relative } from "node:path";
import { mesh } from "../mesh.config.ts";
import { generateMeshKeys, meshKeyVar } from "../kit/mesh-keys.ts";

const dir = process.argv[2];
if (!dir) {
  console.error("usage: bun scripts/mesh-keys.ts <output dir outside the repository>");
  process.exit(2);
}
const repo = resolve(import.meta.dir, "..");
const out = resolve(dir);
if (!relative(repo, out).startsWith("..")) {
  console.error(`refusing to write keys inside the repository (${out}): keys are never committed`);
  process.exit(2);
}
const processes = [...mesh.map((e) => e.name), "edge"];
const names = [...processes, "operator"];
const keys = generateMeshKeys(names);
mkdirSync(out, { recursive: true, mode: 0o700 });
writeFileSync(`${out}/public-keys.env`, `OASIS_MESH_PUBLIC_KEYS=${keys.OASIS_MESH_PUBLIC_KEYS}\n`);
for (const n of names) writeFileSync(`${out}/${n}.env`, `${meshKeyVar(n)}=${keys[meshKeyVar(n)]}\n`, { mode: 0o600 });
console.log(`wrote ${names.length} keys to ${out}; create them in the cluster (namespace oasis):\n`);
console.log(`kubectl -n oasis create configmap oasis-mesh-public-keys --from-env-file=${out}/public-keys.env`);
for (const n of processes) {
  console.log(`kubectl -n oasis create secret generic oasis-${n.replaceAll("_", "-")} --from-env-file=${out}/${n}.env  # plus its store URLs, deploy/README.md`);
}
console.log(`\nThe operator key (${out}/operator.env) is for \`bun run admin\`: keep it with the operators, with public-keys.env:`);
console.log(`  set -a; . ${out}/operator.env; . ${out}/public-keys.env; set +a; OASIS_<SERVICE>_URL=... bun run admin --help`);
