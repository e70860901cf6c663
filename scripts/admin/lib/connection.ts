/**
 * How `bun run admin` reaches the mesh: as the operator identity (kit/auth.ts
 * `operatorName`), over each service's own port with a mesh client (kit/client.ts),
 * never through Redis or NATS directly.
 *
 * The operator's key comes from the environment (OASIS_MESH_KEY_OPERATOR and
 * OASIS_MESH_PUBLIC_KEYS, as deployed: deploy/README.md), else from the file a local
 * `npm run mesh` writes for its run (`.oasis/operator.json`, owner-readable, removed
 * when the mesh stops). Service URLs come from the same variables the services use
 * (OASIS_<NAME>_URL, else the ports of mesh.config.ts on 127.0.0.1).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { DescService } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import { operatorName } from "#kit/auth.ts";
import { createMeshClient } from "#kit/client.ts";
import { upstreamsFrom, type Env } from "#kit/config.ts";
import { meshIdentityFrom, meshKeyVar, type MeshIdentity } from "#kit/mesh-keys.ts";
import { mesh } from "../../../mesh.config.ts";

const root = join(import.meta.dir, "..", "..", "..");

/** Where `npm run mesh` leaves the operator key of its run. */
export const operatorEnvFile = join(root, ".oasis", "operator.json");

/** Deadline of an admin call, ms: replays and history reads can take a while. */
export const adminTimeoutMs = 60_000;

/** The environment with the operator key: process.env, else the running mesh's file. */
export function operatorEnv(env: Env = process.env): Env {
  if (env[meshKeyVar(operatorName)]) return env;
  if (existsSync(operatorEnvFile)) return { ...env, ...(JSON.parse(readFileSync(operatorEnvFile, "utf8")) as Env) };
  throw new Error(
    `no operator key: set ${meshKeyVar(operatorName)} and OASIS_MESH_PUBLIC_KEYS (deploy/README.md), or start a local mesh with \`npm run mesh\`, which writes ${operatorEnvFile}`,
  );
}

/**
 * The services to ask: OASIS_MESH_SERVICES (comma list) when set, as for the services
 * themselves, else those of mesh.config.ts deployed in this checkout.
 */
export function serviceNames(env: Env = process.env): string[] {
  const listed = env.OASIS_MESH_SERVICES?.split(",").map((s) => s.trim()).filter(Boolean);
  return mesh.filter((e) => (listed ? listed.includes(e.name) : existsSync(join(root, "services", e.name, "main.ts")))).map((e) => e.name);
}

/** A connection to the mesh as the operator. */
export interface Operator {
  readonly identity: MeshIdentity;
  /** A client of `desc` on service `name`'s replicas. */
  client<S extends DescService>(desc: S, name: string): Client<S>;
}

export function connectOperator(env: Env = process.env): Operator {
  const e = operatorEnv(env);
  const identity = meshIdentityFrom({ ...e, OASIS_DEV: e.OASIS_DEV ?? "" }, operatorName);
  const urls = upstreamsFrom(e);
  const cache = new Map<string, Client<any>>();
  return {
    identity,
    client(desc, name) {
      const key = `${name}/${desc.typeName}`;
      let c = cache.get(key);
      if (!c) {
        const list = urls[name];
        if (!list?.length) throw new Error(`no URL for service ${name} (OASIS_${name.toUpperCase()}_URL)`);
        c = createMeshClient(desc, list, { meshSecret: identity, audience: name, timeoutMs: adminTimeoutMs });
        cache.set(key, c);
      }
      return c;
    },
  };
}
