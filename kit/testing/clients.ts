/**
 * Clients for tests and tools that call a service directly: Connect binary over HTTP/2,
 * optionally signing the mesh caller assertion as a user (as the edge would), as an
 * anonymous user (null), or as a service acting for itself ("service").
 */
import type { DescService } from "@bufbuild/protobuf";
import { createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { callerHeader, signCaller } from "../auth.ts";
import { devMeshSecret } from "../config.ts";

export type TestCaller = bigint | null | "service" | undefined;

const transports = new Map<string, Transport>();

/** A cached transport per (url, caller). */
export function testTransport(url: string, asUser: TestCaller, secret = process.env.OASIS_MESH_SECRET ?? devMeshSecret): Transport {
  const key = `${url}|${asUser === undefined ? "outside" : String(asUser)}`;
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
                req.header.set(callerHeader, signCaller(secret, asUser));
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
