/**
 * Identity's configuration: the kit's base settings plus token lifetimes, the sign-in
 * throttle, the key-encryption key and the admins. Env (optional unless marked):
 * OASIS_IDENTITY_ACCESS_TTL_SECONDS [900], OASIS_IDENTITY_REFRESH_TTL_SECONDS [2592000],
 * OASIS_IDENTITY_SESSION_MAX_SECONDS [7776000], OASIS_IDENTITY_LOGIN_MAX_FAILURES [5],
 * OASIS_IDENTITY_LOGIN_IP_MAX_FAILURES [50], OASIS_IDENTITY_LOGIN_WINDOW_SECONDS [900],
 * OASIS_IDENTITY_PASSWORD_MEMORY_KIB [19456], OASIS_ADMIN_HANDLES [none] (comma list),
 * OASIS_IDENTITY_KEY_RELOAD_MS [10000], OASIS_IDENTITY_KEY_PUBLISH_DELAY_MS [40000],
 * OASIS_IDENTITY_KEK (required: 32 random bytes, base64; `openssl rand -base64 32`).
 */
import { baseConfig, type BaseConfig, type Env } from "#kit/config.ts";
import { nonNegativeIntEnv, positiveIntEnv } from "#kit/env.ts";

export interface IdentityConfig extends BaseConfig {
  /** Access token lifetime. 15 minutes; revocation reaches the edge within a second anyway. */
  readonly accessTtlSeconds: number;
  /** Refresh token lifetime: 30 days of inactivity signs a user out. */
  readonly refreshTtlSeconds: number;
  /** Absolute session lifetime: refreshing never extends a session past this (90 days). */
  readonly sessionMaxSeconds: number;
  /**
   * Failed sign-ins per (login, client IP) per window before LOGIN_THROTTLED (OWASP:
   * about 5). Never per account alone: that would let anyone lock an owner out.
   */
  readonly loginMaxFailures: number;
  /** Failed sign-ins per client IP, any login, per window (slows credential stuffing). */
  readonly loginIpMaxFailures: number;
  readonly loginWindowSeconds: number;
  /** argon2id memory cost, KiB. 19 MiB with t=2 is OWASP's minimum recommendation. */
  readonly passwordMemoryKib: number;
  /** AES-256-GCM key that seals the JWT signing keys in MariaDB (32 bytes). */
  readonly kek: Buffer;
  /** Handles (lowercase) whose tokens carry the "admin" role. */
  readonly adminHandles: ReadonlySet<string>;
  /** How often a replica reloads the signing keys (picks up another replica's rotation), ms. */
  readonly keyReloadMs: number;
  /**
   * How long a rotated-in key is published before it signs, ms: must exceed the edges'
   * JWKS refetch cooldown (OASIS_EDGE_JWKS_COOLDOWN_MS, 30 s), so every edge can fetch it.
   */
  readonly keyPublishDelayMs: number;
  /** JWT `iss` and `aud`. */
  readonly issuer: string;
  readonly audience: string;
}

const int = positiveIntEnv;

/** The key-encryption key; there is deliberately no default (tests and `npm run mesh` generate one). */
function kekFrom(env: Env): Buffer {
  const raw = env.OASIS_IDENTITY_KEK;
  if (!raw) throw new Error("OASIS_IDENTITY_KEK is required: 32 random bytes, base64 (openssl rand -base64 32)");
  const kek = Buffer.from(raw, "base64");
  if (kek.length !== 32) throw new Error("OASIS_IDENTITY_KEK must be 32 bytes, base64-encoded");
  return kek;
}

export function loadIdentityConfig(env: Env = process.env): IdentityConfig {
  return Object.freeze({
    ...baseConfig("identity", env),
    accessTtlSeconds: int(env, "OASIS_IDENTITY_ACCESS_TTL_SECONDS", 900),
    refreshTtlSeconds: int(env, "OASIS_IDENTITY_REFRESH_TTL_SECONDS", 30 * 24 * 3600),
    sessionMaxSeconds: int(env, "OASIS_IDENTITY_SESSION_MAX_SECONDS", 90 * 24 * 3600),
    loginMaxFailures: int(env, "OASIS_IDENTITY_LOGIN_MAX_FAILURES", 5),
    loginIpMaxFailures: int(env, "OASIS_IDENTITY_LOGIN_IP_MAX_FAILURES", 50),
    loginWindowSeconds: int(env, "OASIS_IDENTITY_LOGIN_WINDOW_SECONDS", 900),
    passwordMemoryKib: int(env, "OASIS_IDENTITY_PASSWORD_MEMORY_KIB", 19_456),
    kek: kekFrom(env),
    adminHandles: new Set((env.OASIS_ADMIN_HANDLES ?? "").split(",").map((h) => h.trim().toLowerCase()).filter(Boolean)),
    keyReloadMs: int(env, "OASIS_IDENTITY_KEY_RELOAD_MS", 10_000),
    keyPublishDelayMs: nonNegativeIntEnv(env, "OASIS_IDENTITY_KEY_PUBLISH_DELAY_MS", 40_000),
    issuer: "oasis.identity",
    audience: "oasis",
  });
}
