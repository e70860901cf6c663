/**
 * Moderation's configuration: the kit's base settings, plus
 * - OASIS_MODERATION_LEASE_SECONDS [600]: a claim's default lease (the 10 min).
 * - OASIS_MODERATION_ROLE_CACHE_MS [2000]: how long a reviewer's roles (identity.GetRoles)
 *   are reused; a revoked role bites within this.
 */
import { baseConfig, type BaseConfig, type Env } from "#kit/config.ts";

export interface ModerationConfig extends BaseConfig {
  readonly leaseSeconds: number;
  readonly roleCacheMs: number;
}

function positive(env: Env, key: string, fallback: number): number {
  const n = Number(env[key] ?? fallback);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${key} must be a positive integer`);
  return n;
}

export function loadModerationConfig(env: Env = process.env): ModerationConfig {
  return Object.freeze({
    ...baseConfig("moderation", env),
    leaseSeconds: positive(env, "OASIS_MODERATION_LEASE_SECONDS", 600),
    roleCacheMs: positive(env, "OASIS_MODERATION_ROLE_CACHE_MS", 2000),
  });
}
