/**
 * Identity's configuration: the kit's base settings plus token lifetimes and the login
 * throttle. Env (optional): OASIS_IDENTITY_ACCESS_TTL_SECONDS [900],
 * OASIS_IDENTITY_REFRESH_TTL_SECONDS [2592000], OASIS_IDENTITY_LOGIN_MAX_FAILURES [5],
 * OASIS_IDENTITY_LOGIN_WINDOW_SECONDS [900], OASIS_IDENTITY_PASSWORD_MEMORY_KIB [19456].
 */
import { baseConfig, type BaseConfig, type Env } from "#kit/config.ts";

export interface IdentityConfig extends BaseConfig {
  /** Access token lifetime. 15 minutes: short enough that revocation by expiry is tolerable. */
  readonly accessTtlSeconds: number;
  /** Refresh token lifetime: 30 days of inactivity signs a user out. */
  readonly refreshTtlSeconds: number;
  /** Failed logins per account per window before throttling (OWASP: lock after ~5). */
  readonly loginMaxFailures: number;
  readonly loginWindowSeconds: number;
  /** argon2id memory cost, KiB. 19 MiB with t=2 is OWASP's minimum recommendation. */
  readonly passwordMemoryKib: number;
  /** JWT `iss` and `aud`. */
  readonly issuer: string;
  readonly audience: string;
}

function int(env: Env, key: string, fallback: number): number {
  const v = env[key];
  return v ? Number.parseInt(v, 10) : fallback;
}

export function loadIdentityConfig(env: Env = process.env): IdentityConfig {
  return Object.freeze({
    ...baseConfig("identity", env),
    accessTtlSeconds: int(env, "OASIS_IDENTITY_ACCESS_TTL_SECONDS", 900),
    refreshTtlSeconds: int(env, "OASIS_IDENTITY_REFRESH_TTL_SECONDS", 30 * 24 * 3600),
    loginMaxFailures: int(env, "OASIS_IDENTITY_LOGIN_MAX_FAILURES", 5),
    loginWindowSeconds: int(env, "OASIS_IDENTITY_LOGIN_WINDOW_SECONDS", 900),
    passwordMemoryKib: int(env, "OASIS_IDENTITY_PASSWORD_MEMORY_KIB", 19_456),
    issuer: "oasis.identity",
    audience: "oasis",
  });
}
