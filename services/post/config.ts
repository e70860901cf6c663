/**
 * Post's configuration: the kit's base settings plus
 * - OASIS_POST_BATCHED_WRITES [1]: a create is one transaction in two round trips
 *   (kit/idempotency.ts idempotentBatched: the request id's claim and the suspension
 *   check, then the post, its hashtags, the post_created outbox row, the stored response
 *   and COMMIT); 0 runs it statement by statement (the A/B switch of bench/social.ts).
 */
import { baseConfig, type BaseConfig, type Env } from "#kit/config.ts";
import { boolEnv } from "#kit/env.ts";

export interface PostConfig extends BaseConfig {
  /** Creates use idempotentBatched (two round trips). */
  readonly batchedWrites: boolean;
}

export function loadPostConfig(env: Env = process.env): PostConfig {
  return Object.freeze({
    ...baseConfig("post", env),
    batchedWrites: boolEnv(env, "OASIS_POST_BATCHED_WRITES", true),
  });
}
