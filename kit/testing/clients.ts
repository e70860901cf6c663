/**
 * Clients for tests and tools that call a service directly: Connect binary over HTTP/2,
 * optionally signing the mesh caller assertion as a user or an anonymous user (null)
 * with the edge's key, as the edge would, or as the called service itself acting for
 * itself ("service"). Keys come from the env (kit/testing/preload.ts makes them).
 */
import "./keys.ts";
import type { DescService } from "@bufbuild/protobuf";
import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { audienceOf, callerHeader, edgeName, signCaller } from "../auth.ts";
import type { Env } from "../config.ts";
import { meshIdentityFrom, type MeshIdentity } from "../mesh-keys.ts";

export type TestCaller = bigint | null | "service" | undefined;

const transports = new Map<string, Transport>();
const identities = new Map<string, MeshIdentity>();

/** The mesh identity `name` from `env` (cached per name and key set). */
export function testIdentity(name: string, env: Env = process.env): MeshIdentity {
  const key = `${name}|${env.OASIS_MESH_PUBLIC_KEYS}`;
  let id = identities.get(key);
  if (!id) identities.set(key, (id = meshIdentityFrom(env, name)));
  return id;
}

/** A cached transport per (url, caller). */
export function testTransport(url: string, asUser: TestCaller): Transport {
  const key = `${url}|${asUser === undefined ? "outside" : String(asUser)}|${process.env.OASIS_MESH_PUBLIC_KEYS}`;
  let t = transports.get(key);
  if (!t) {
    t = createConnectTransport({
      baseUrl: url,
      httpVersion: "2",
      useBinaryFormat: true,
      defaultTimeoutMs: 30_000,
      interceptors:
        asUser === undefined
          ? []
          : [
              (next) => async (req) => {
                const audience = audienceOf(req.service.typeName);
                // Health and reflection are not mesh services of their own: no credential.
                if (!audience) return next(req);
                const issuer = testIdentity(asUser === "service" ? audience : edgeName);
                req.header.set(callerHeader, signCaller(issuer, { audience, method: `${req.service.typeName}/${req.method.name}` }, asUser));
                return next(req);
              },
            ],
    });
    transports.set(key, t);
  }
  return t;
}

/** A typed client of `service` at `url`, calling as `asUser` (undefined: from outside the mesh). */
export function testClient<S extends DescService>(service: S, url: string, asUser?: TestCaller): Client<S> {
  return createClient(service, testTransport(url, asUser));
}
