/**
 * Starts a real service in the test process, on a free port, in its own namespace, and
 * tears it down (stop + drop its databases, keys and streams).
 *
 *     const svc = await startTestApp(createIdentityApp, loadIdentityConfig);
 *     const client = svc.client(IdentityService);
 *     ...
 *     afterAll(() => svc.stop());
 */
import "./keys.ts";
import { randomBytes } from "node:crypto";
import type { DescService } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import type { BaseConfig, Env } from "../config.ts";
import { testClient } from "./clients.ts";
import type { App } from "../runtime.ts";
import { testAdminHandle } from "./mesh.ts";
import { cleanupNamespace, testNamespace } from "./namespace.ts";

export interface TestApp<C extends BaseConfig> {
  readonly app: App;
  readonly config: C;
  readonly port: number;
  readonly url: string;
  /** http://127.0.0.1:<admin port>, serving /metrics. */
  readonly metricsUrl: string;
  readonly namespace: string;
  /** The env the app was configured from (for starting more processes alike). */
  readonly env: Env;
  /**
   * A Connect (binary, HTTP/2) client. `asUser` signs the mesh caller assertion as
   * that user (as the edge would), `null` as an anonymous user via the edge, "service"
   * as another service acting for itself; omit it for a call from outside the mesh.
   */
  client<S extends DescService>(service: S, asUser?: bigint | null | "service"): Client<S>;
  /** Stops the app; cleans the namespace unless `keepNamespace` was given. */
  stop(): Promise<void>;
}

export interface TestAppOptions {
  /** Reuse a namespace (several services in one test); its owner cleans it up. */
  readonly namespace?: string;
  readonly env?: Env;
}

export async function startTestApp<C extends BaseConfig>(
  create: (config: C) => Promise<App>,
  load: (env: Env) => C,
  opts: TestAppOptions = {},
): Promise<TestApp<C>> {
  const namespace = opts.namespace ?? testNamespace();
  const ownsNamespace = opts.namespace === undefined;
  // Identity's key-encryption key and admin: generated per run, never a default.
  const generated: Env = { OASIS_IDENTITY_KEK: randomBytes(32).toString("base64"), OASIS_ADMIN_HANDLES: testAdminHandle };
  const probe = load({ ...process.env, ...generated, ...opts.env, OASIS_NAMESPACE: namespace });
  const env: Env = { ...process.env, ...generated, ...opts.env, OASIS_NAMESPACE: namespace, [`OASIS_${probe.service.toUpperCase()}_PORT`]: "0" };
  const config = load(env);
  const app = await create(config);
  const port = await app.start();
  const url = `http://127.0.0.1:${port}`;
  return {
    app,
    config,
    port,
    url,
    metricsUrl: `http://127.0.0.1:${app.server.metricsPort()}`,
    namespace,
    env,
    client: (service, asUser) => testClient(service, url, asUser),
    async stop() {
      await app.stop();
      if (ownsNamespace) await cleanupNamespace(namespace, env);
    },
  };
}
