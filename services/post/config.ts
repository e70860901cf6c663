/**
 * Post's configuration: the kit's base settings plus
 * - OASIS_POST_BATCHED_WRITES [1]: a create is one transaction in two round trips
 *   (kit/idempotency.ts idempotentBatched: the request id's claim and the suspension
 *   check, then the post, its hashtags, the post_created outbox row, the stored response
 *   and COMMIT); 0 runs it statement by statement (the A/B switch of bench/social.ts).
 * - OASIS_POST_ONE_TRIP_CREATE [1]: with batched writes and a request_id, a create of an
 *   author with no suspension is ONE round trip (kit/idempotency.ts idempotentGuarded:
 *   the suspension lock, the key claimed only if the author is not suspended, the rows
 *   conditioned on the claim, COMMIT); a suspended author's create then takes the two.
 *   bench/social.ts OASIS_BENCH_COMPOSE_AB=onetrip.
 * - OASIS_POST_BYTES_ONCE [1]: the one-round-trip create sends the post's bytes once
 *   (a session variable the post's row, post_created's outbox row and the stored
 *   response read) instead of three hex-escaped copies in the batch's SQL text. 0: three.
 *   bench/social.ts OASIS_BENCH_COMPOSE_AB=bytesonce.
 * - OASIS_POST_ONE_TRIP_WITHOUT_ID [1]: a create without a request_id takes the one round
 *   trip too (the suspension lock, the rows and the outbox row written only if the author
 *   has no suspension, COMMIT; kit/idempotency.ts idempotentGuarded's guardOnly) instead
 *   of idempotentBatched's two; a suspended author's create then takes the two. 0: two.
 *   bench/social.ts OASIS_BENCH_COMPOSE_AB=noid (the DSB mix's composes carry no id).
 * - OASIS_POST_MEDIA_CACHE [1]: a create reads its media and post-images' policy from
 *   media's own cache in Redis (shared-rules/media-cache.ts peekMedia: one round trip on
 *   a connection with media's key prefix, same Redis as OASIS_REDIS_URL) instead of a
 *   media.BatchGetMedia hop; media is asked as before when any of them is not cached.
 *   0: media asked. bench/social.ts OASIS_BENCH_COMPOSE_AB=mediacache.
 */
import { baseConfig, type BaseConfig, type Env } from "#kit/config.ts";
import { boolEnv } from "#kit/env.ts";

export interface PostConfig extends BaseConfig {
  /** Creates use idempotentBatched (two round trips). */
  readonly batchedWrites: boolean;
  /** Creates of authors with no suspension in one round trip (idempotentGuarded). */
  readonly oneTripCreate: boolean;
  /** The one-round-trip create sends the post's bytes once (a session variable). */
  readonly bytesOnce: boolean;
  /** Creates without a request id in one round trip as well (idempotentGuarded's guardOnly). */
  readonly oneTripWithoutId: boolean;
  /** Creates read media from media's Redis cache (shared-rules/media-cache.ts) before asking media. */
  readonly mediaCache: boolean;
}

export function loadPostConfig(env: Env = process.env): PostConfig {
  return Object.freeze({
    ...baseConfig("post", env),
    batchedWrites: boolEnv(env, "OASIS_POST_BATCHED_WRITES", true),
    oneTripCreate: boolEnv(env, "OASIS_POST_ONE_TRIP_CREATE", true),
    oneTripWithoutId: boolEnv(env, "OASIS_POST_ONE_TRIP_WITHOUT_ID", true),
    bytesOnce: boolEnv(env, "OASIS_POST_BYTES_ONCE", true),
    mediaCache: boolEnv(env, "OASIS_POST_MEDIA_CACHE", true),
  });
}
