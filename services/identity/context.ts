/**
 * Identity's long-lived state, built once per process and passed to handlers: the kit
 * runtime (MySQL, Redis, outbox), config, the store, signing keys, the sign-in throttle,
 * the edge's Redis keyspace (session revocations, rate-limit overrides) and the domain's
 * error helpers.
 */
import type { Client } from "@connectrpc/connect";
import { domainErrors, type DomainErrors } from "#kit/errors.ts";
import { GraphService } from "#gen/oasis/graph/v1/graph_service_pb.ts";
import { MediaService } from "#gen/oasis/media/v1/media_service_pb.ts";
import { edgeKeyPrefix } from "#kit/edge-keys.ts";
import { createRedis, type Redis } from "#kit/redis.ts";
import type { Runtime } from "#kit/runtime.ts";
import { ErrorReason, ErrorReasonSchema } from "#gen/oasis/identity/v1/errors_pb.ts";
import type { IdentityConfig } from "./config.ts";
import type { IdentityStore } from "./domain/model.ts";
import { createLoginThrottle, type LoginThrottle } from "./login-throttle.ts";
import { ProfileCache } from "./profile-cache.ts";
import { identityStore } from "./store.ts";
import { KeyRing } from "./tokens.ts";

export interface IdentityContext {
  readonly rt: Runtime<IdentityConfig>;
  readonly config: IdentityConfig;
  readonly store: IdentityStore;
  readonly keys: KeyRing;
  readonly errors: DomainErrors<ErrorReason>;
  readonly profiles: ProfileCache;
  /** Failed sign-ins per (login, IP) and per IP (login-throttle.ts); RESOURCE_EXHAUSTED LOGIN_THROTTLED. */
  readonly throttle: LoginThrottle;
  /** Redis with the edge's key prefix: identity writes revocations and limit overrides there. */
  readonly edgeRedis: Redis;
  /** Graph (viewer relationships for profile privacy), created on first use. */
  graph(): Client<typeof GraphService>;
  /** Media (avatar ownership), created on first use. */
  media(): Client<typeof MediaService>;
  /** argon2id hash of a random password, verified against when a login names no
   * account so that "no such user" takes as long as "wrong password". */
  readonly dummyHash: string;
  close(): void;
}

export async function createContext(rt: Runtime<IdentityConfig>): Promise<IdentityContext> {
  const config = rt.config;
  const keys = await KeyRing.open(rt.db, {
    issuer: config.issuer,
    audience: config.audience,
    kek: config.kek,
    accessTtlSeconds: config.accessTtlSeconds,
    keyReloadMs: config.keyReloadMs,
    publishDelayMs: config.keyPublishDelayMs,
  });
  const edgeRedis = createRedis({ url: config.redisUrl, keyPrefix: edgeKeyPrefix(config.namespace), log: rt.log });
  const errors = domainErrors<ErrorReason>("identity", ErrorReasonSchema);
  return {
    rt,
    config,
    store: identityStore,
    keys,
    errors,
    profiles: new ProfileCache(rt.redis, rt.db),
    throttle: createLoginThrottle(rt.redis, config, (retryMs) =>
      errors.exhausted(ErrorReason.LOGIN_THROTTLED, "too many failed sign-in attempts; try again later", retryMs),
    ),
    edgeRedis,
    graph: () => rt.client(GraphService, "graph"),
    media: () => rt.client(MediaService, "media"),
    dummyHash: await Bun.password.hash(crypto.randomUUID(), {
      algorithm: "argon2id",
      memoryCost: config.passwordMemoryKib,
      timeCost: 2,
    }),
    close() {
      keys.close();
      edgeRedis.disconnect();
    },
  };
}
