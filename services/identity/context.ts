/**
 * Identity's long-lived state, built once per process and passed to handlers: the kit
 * runtime (MySQL, Redis, outbox), config, signing keys and the domain's error helpers.
 */
import { domainErrors, type DomainErrors } from "#kit/errors.ts";
import type { Runtime } from "#kit/runtime.ts";
import { ErrorReasonSchema, type ErrorReason } from "#gen/oasis/identity/v1/errors_pb.ts";
import type { IdentityConfig } from "./config.ts";
import { ProfileCache } from "./profile-cache.ts";
import { loadSigningKeys, type SigningKeys } from "./tokens.ts";

export interface IdentityContext {
  readonly rt: Runtime<IdentityConfig>;
  readonly config: IdentityConfig;
  readonly keys: SigningKeys;
  readonly errors: DomainErrors<ErrorReason>;
  readonly profiles: ProfileCache;
  /** argon2id hash of a random password, verified against when a login names no
   * account so that "no such user" takes as long as "wrong password". */
  readonly dummyHash: string;
}

export async function createContext(rt: Runtime<IdentityConfig>): Promise<IdentityContext> {
  const config = rt.config;
  return {
    rt,
    config,
    keys: await loadSigningKeys(rt.db, { issuer: config.issuer, audience: config.audience }),
    errors: domainErrors<ErrorReason>("identity", ErrorReasonSchema),
    profiles: new ProfileCache(rt.redis, rt.db),
    dummyHash: await Bun.password.hash(crypto.randomUUID(), {
      algorithm: "argon2id",
      memoryCost: config.passwordMemoryKib,
      timeCost: 2,
    }),
  };
}
