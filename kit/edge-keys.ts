/**
 * The Redis keys the edge reads and other processes write: the edge's key prefix,
 * the session revocation list and the rate-limit override. One place for their names,
 * so the writer (identity) and the reader (every edge replica) cannot drift apart.
 *
 * Layout, under `[<namespace>:]oasis:edge:`:
 * - `revoked:<session id>`: present while a revoked session may still have live access
 *   tokens (TTL = access token lifetime plus slack). The edge checks it in the same Lua
 *   call as the rate limits, so revocation costs no extra round trip.
 * - `rate-limits`: JSON overrides of the limits per route class, always with a TTL.
 * And the Pub/Sub channel `[<namespace>:]oasis:edge:revoked` (ioredis does not prefix
 * channels): a revoked session id, so edges close that session's open streams at once.
 */

/** Key prefix of the edge's keys in a namespace ("" in production). */
export function edgeKeyPrefix(namespace: string): string {
  return `${namespace ? `${namespace}:` : ""}oasis:edge:`;
}

/** Key (under the edge prefix) present while session `sessionId` is revoked. */
export function revokedSessionKey(sessionId: string): string {
  return `revoked:${sessionId}`;
}

/** Key (under the edge prefix) of the run-time rate-limit overrides. */
export const rateLimitOverridesKey = "rate-limits";

/** Pub/Sub channel (full name) on which revoked session ids are announced. */
export function revocationChannel(namespace: string): string {
  return `${edgeKeyPrefix(namespace)}revoked`;
}
