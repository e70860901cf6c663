/**
 * Interaction's configuration. Env (optional): OASIS_INTERACTION_RECONCILE_MS [60000]
 * (how often posts with recent activity are recounted from MySQL).
 */
import { baseConfig, type BaseConfig, type Env } from "#kit/config.ts";

export interface InteractionConfig extends BaseConfig {
  readonly reconcileMs: number;
}

export function loadInteractionConfig(env: Env = process.env): InteractionConfig {
  return Object.freeze({ ...baseConfig("interaction", env), reconcileMs: Number(env.OASIS_INTERACTION_RECONCILE_MS ?? 60_000) });
}
