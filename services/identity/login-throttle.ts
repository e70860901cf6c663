/**
 * The sign-in throttle: failed attempts counted per (login, client IP) and per client
 * IP, in Redis, over a fixed window. Never per account alone: a per-account lock lets
 * anyone lock the owner out (OWASP Authentication Cheat Sheet, "account lockout";
 * NIST SP 800-63B section 5.2.2 rate-limits failed attempts without locking). The owner
 * signing in from another address has a fresh (login, IP) budget.
 *
 * An attempt is reserved before the password is checked (so parallel guesses cannot
 * all slip under the limit) and given back on success. Unknown logins are counted
 * exactly like known ones, so the 401/429 sequence tells nothing about which exist.
 * The login is hashed into the key: Redis never holds e-mail addresses.
 */
import { createHash } from "node:crypto";
import type { Redis } from "#kit/redis.ts";

export interface LoginThrottleConfig {
  readonly loginMaxFailures: number;
  readonly loginIpMaxFailures: number;
  readonly loginWindowSeconds: number;
}

export interface LoginThrottle {
  /** Counts one attempt; throws `exhausted(retryMs)` when either budget is spent. */
  reserve(login: string, ip: string): Promise<void>;
  /** Gives the attempt back after a correct password and clears the pair's failures. */
  succeeded(login: string, ip: string): Promise<void>;
}

function keys(login: string, ip: string): [string, string] {
  const l = createHash("sha256").update(login).digest("base64url").slice(0, 22);
  return [`login_failures:pair:${l}:${ip}`, `login_failures:ip:${ip}`];
}

export function createLoginThrottle(redis: Redis, config: LoginThrottleConfig, exhausted: (retryMs: number) => Error): LoginThrottle {
  return {
    async reserve(login, ip) {
      const [pair, perIp] = keys(login, ip);
      const out = await redis
        .multi()
        .incr(pair)
        .expire(pair, config.loginWindowSeconds, "NX")
        .incr(perIp)
        .expire(perIp, config.loginWindowSeconds, "NX")
        .pttl(pair)
        .pttl(perIp)
        .exec();
      const n = (i: number) => Number(out?.[i]?.[1] ?? 0);
      const overPair = n(0) > config.loginMaxFailures;
      const overIp = n(2) > config.loginIpMaxFailures;
      if (overPair || overIp) throw exhausted(Math.max(1000, overPair ? n(4) : 0, overIp ? n(5) : 0));
    },
    async succeeded(login, ip) {
      const [pair, perIp] = keys(login, ip);
      await redis.multi().del(pair).decr(perIp).exec();
    },
  };
}
