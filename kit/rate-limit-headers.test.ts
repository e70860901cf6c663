/** The RateLimit header fields: written, read back, refused when malformed, and the tighter of two limits. */
import { expect, test } from "bun:test";
import { rateLimitFields, readRateLimit, setRateLimitHeaders, tighterLimit } from "./rate-limit-headers.ts";

test("fields round-trip through Headers; absent or malformed fields read as no limit", () => {
  const h = new Headers();
  setRateLimitHeaders(h, { limit: 30, remaining: 7, resetSeconds: 41 });
  expect(Object.fromEntries(h)).toEqual({ "ratelimit-limit": "30", "ratelimit-remaining": "7", "ratelimit-reset": "41" });
  expect(readRateLimit((n) => h.get(n))).toEqual({ limit: 30, remaining: 7, resetSeconds: 41 });
  const raw = rateLimitFields({ limit: 30, remaining: 7, resetSeconds: 41 });
  expect(readRateLimit((n) => ({})[n as never])).toBeUndefined();
  expect(readRateLimit((n) => ({ ...raw, "ratelimit-remaining": "-1" })[n])).toBeUndefined();
  expect(readRateLimit((n) => ({ ...raw, "ratelimit-reset": "soon" })[n])).toBeUndefined();
  expect(readRateLimit((n) => ({ ...raw, "ratelimit-limit": ["1", "2"] })[n])).toBeUndefined();
});

test("the tighter limit has fewer remaining; on a tie, the later reset", () => {
  const edge = { limit: 300, remaining: 12, resetSeconds: 3 };
  const service = { limit: 30, remaining: 29, resetSeconds: 50 };
  expect(tighterLimit(edge, service)).toBe(edge);
  expect(tighterLimit(service, edge)).toBe(edge);
  const spent = { limit: 30, remaining: 12, resetSeconds: 50 };
  expect(tighterLimit(edge, spent)).toBe(spent);
  expect(tighterLimit(spent, edge)).toBe(spent);
});
