/**
 * The RateLimit header fields, one definition for whoever reports a limit: the edge for
 * its own limits, and any service behind it for limits it enforces itself (it sets them
 * as response headers of the RPC, on success and on refusal alike; the edge passes them
 * on to the app when they are tighter than its own, see edge/rpc-call.ts).
 *
 * Source: IETF draft-ietf-httpapi-ratelimit-headers, the separate-field form of drafts
 * -00 to -06 (RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset; later drafts
 * combine them into RateLimit and RateLimit-Policy). Retry-After (RFC 9110 section
 * 10.2.3) is not among them: a refusal carries it from google.rpc.RetryInfo.
 */

/** Requests allowed in the window (a count). */
export const rateLimitLimitHeader = "ratelimit-limit";
/** Requests left in the window after this one (a count, 0 on a refusal). */
export const rateLimitRemainingHeader = "ratelimit-remaining";
/** Seconds (delta, not a date) until the window's quota is whole again. */
export const rateLimitResetHeader = "ratelimit-reset";

/** One limit's state as seen by the request that was just charged against it. */
export interface RateLimitState {
  /** Requests allowed per window. */
  readonly limit: number;
  /** Requests left after this one; 0 when this one was refused. */
  readonly remaining: number;
  /** Seconds until the quota is whole again (rounded up). */
  readonly resetSeconds: number;
}

/** The three header fields for `s`, lower-case names. */
export function rateLimitFields(s: RateLimitState): Record<string, string> {
  return {
    [rateLimitLimitHeader]: String(s.limit),
    [rateLimitRemainingHeader]: String(s.remaining),
    [rateLimitResetHeader]: String(s.resetSeconds),
  };
}

/** Sets the three header fields for `s` on `headers` (e.g. a Connect handler's responseHeader). */
export function setRateLimitHeaders(headers: Headers, s: RateLimitState): void {
  for (const [k, v] of Object.entries(rateLimitFields(s))) headers.set(k, v);
}

/**
 * Reads the three fields through `get` (a header lookup); undefined when
 * RateLimit-Limit is absent or any field is not a non-negative integer.
 */
export function readRateLimit(get: (name: string) => string | string[] | null | undefined): RateLimitState | undefined {
  const limit = get(rateLimitLimitHeader);
  if (limit === undefined || limit === null) return undefined;
  const n = (v: string | string[] | null | undefined) => (typeof v === "string" && /^\d{1,15}$/.test(v.trim()) ? Number(v) : NaN);
  const s = { limit: n(limit), remaining: n(get(rateLimitRemainingHeader)), resetSeconds: n(get(rateLimitResetHeader)) };
  return Number.isNaN(s.limit) || Number.isNaN(s.remaining) || Number.isNaN(s.resetSeconds) ? undefined : s;
}

/**
 * Of two limits that both apply to a request, the one to report: fewer requests
 * remaining (the one the client hits first); on a tie, the later reset (the longer wait).
 */
export function tighterLimit(a: RateLimitState, b: RateLimitState): RateLimitState {
  if (a.remaining !== b.remaining) return a.remaining < b.remaining ? a : b;
  return a.resetSeconds >= b.resetSeconds ? a : b;
}
