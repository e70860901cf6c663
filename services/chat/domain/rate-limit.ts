/**
 * Per-sender limits in Redis, fixed windows (one INCR per call; the counter expires with
 * its window): messages per minute and new convos per day. Over the limit is
 * RESOURCE_EXHAUSTED, reason RATE_LIMITED, with RetryInfo until the window ends (the edge
 * turns it into Retry-After). Fixed windows allow up to twice the rate across a window
 * edge, which is acceptable for abuse limits of this size.
 */
import type { Redis } from "#kit/redis.ts";
import { ErrorReason } from "#gen/oasis/chat/v1/errors_pb.ts";
import { errors } from "./errors.ts";

export async function takeRate(redis: Redis, what: "messages" | "convos", userId: bigint, limit: number, windowMs: number, now = Date.now()): Promise<void> {
  const window = Math.floor(now / windowMs);
  const key = `rl:${what}:${userId}:${window}`;
  const [[, count]] = (await redis.multi().incr(key).pexpire(key, windowMs).exec()) as [[unknown, number], unknown];
  if (count > limit) {
    const retryMs = (window + 1) * windowMs - now;
    throw errors.exhausted(ErrorReason.RATE_LIMITED, `more than ${limit} ${what} per ${windowMs / 1000} s`, retryMs, { limit, window_seconds: windowMs / 1000 });
  }
}
