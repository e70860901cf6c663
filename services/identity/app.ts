/**
 * Builds the identity process: runtime (MySQL `oasis_identity`, Redis, bus + outbox),
 * context, and the server with IdentityService and the JWKS endpoint. Tests call
 * createIdentityApp with a config on port 0; main.ts calls it with the env config.
 */
import { join } from "node:path";
import { openRuntime, serve, type App } from "#kit/runtime.ts";
import { bind, sendHttp } from "#kit/server.ts";
import { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import type { IdentityConfig } from "./config.ts";
import { createContext } from "./context.ts";
import { identityService } from "./service.ts";
import { requireAdmin } from "./domain/roles.ts";
import { suspensionConsumer } from "./suspension.ts";

/** Path of the JWKS document (RFC 8414 / OpenID discovery convention). */
export const jwksPath = "/.well-known/jwks.json";

export async function createIdentityApp(config: IdentityConfig): Promise<App> {
  const rt = await openRuntime(config, { migrationsDir: join(import.meta.dir, "migrations"), redis: true, bus: true });
  const ctx = await createContext(rt);
  rt.onStop(() => ctx.close());
  return serve(rt, {
    bindings: [bind(IdentityService, identityService(ctx))],
    consumers: [suspensionConsumer(ctx)],
    // Admin methods refuse a non-admin before the request is validated.
    authorize: async () => void (await requireAdmin(ctx)),
    httpFallback(req, res) {
      if ((req.url ?? "").split("?")[0] !== jwksPath) return false;
      // Verifiers may cache keys for 5 minutes; a new key is published before it signs.
      const headers = { "content-type": "application/jwk-set+json", "cache-control": "public, max-age=300" };
      sendHttp(res, 200, headers, JSON.stringify(ctx.keys.jwks()));
      return true;
    },
  });
}
