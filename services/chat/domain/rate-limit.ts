/**
 * Per-sender limits in Redis, fixed windows (one INCR per call; the counter expires with
 * its window): messages per minute and new convos per day. Over the limit is
 * RESOURCE_EXHAUSTED, reason RATE_LIMITED, with RetryInfo until the window ends (the edge
 * turns it into Retry-After). Fixed windows allow up to twice the rate across a window
 * edge, which is acceptable for abuse limits of this size.
 *
 * Every charge reports the limit's state (limit, remaining, seconds to the window's end)
 * for the RateLimit-* response headers (kit/rate-limit-headers.ts): returned when
 * admitted, and in the refusal's metadata (Connect sends error metadata as response
 * headers), so the app sees them either way through the edge.
 */
import type { Redis } from "#kit/redis.ts";
import { rateLimitFields, type RateLimitState } from "#kit/rate-limit-headers.ts";
import { ErrorReason } from "#gen/oasis/chat/v1/errors_pb.ts";
import { errors } from "./errors.ts";

/**
 * Charges one `what` to `userId` in the current window of `windowMs` ms (at most `limit`
 * per window; `now` in ms since the epoch). Returns the state after the charge; throws
 * RESOURCE_EXHAUSTED / RATE_LIMITED with RetryInfo (ms to the window's end) and the
 * RateLimit-* fields in its metadata (remaining 0) when over the limit.
 */
export async function takeRate(redis: Redis, what: "messages" | "convos", userId: bigint, limit: number, windowMs: number, now = Date.now()): Promise<RateLimitState> {
  const window = Math.floor(now / windowMs);
  const key = `rl:${what}:${userId}:${window}`;
  const [[, count]] = (await redis.multi().incr(key).pexpire(key, windowMs).exec()) as [[unknown, number], unknown];
  const untilEndMs = (window + 1) * windowMs - now;
  const state = { limit, remaining: Math.max(0, limit - count), resetSeconds: Math.ceil(untilEndMs / 1000) };
  if (count > limit) {
    const err = errors.exhausted(ErrorReason.RATE_LIMITED, `more than ${limit} ${what} per ${windowMs / 1000} s`, untilEndMs, { limit, window_seconds: windowMs / 1000 });
    for (const [k, v] of Object.entries(rateLimitFields(state))) err.metadata.set(k, v);
    throw err;
  }
  return state;
}
