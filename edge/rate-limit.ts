/**
 * Rate limits at the edge: GCRA (Generic Cell Rate Algorithm, ITU-T I.371; the form
 * used by redis-cell and Stripe's limiter) in Redis, one Lua call per request checking
 * the per-user and the per-IP limit of the request's route class together, on Redis's
 * own clock (`TIME`), so any number of edge processes share one exact budget.
 *
 * Per key, Redis keeps the theoretical arrival time (TAT) in ms. A request costing one
 * cell is admitted when `TAT - now <= burst * emission`, where emission = period / limit;
 * admitting moves TAT forward by one emission. A limit of L per period P thus allows L
 * requests at once and then one every P/L. Both keys are checked before either is
 * charged, so a request refused by one limit costs nothing against the other.
 *
 * The same Lua call first checks the token's session against the revocation list
 * (`revoked:<session id>`, written by identity, see kit/edge-keys.ts), so refusing a
 * revoked session's tokens costs no extra round trip.
 *
 * Limits per route class can be overridden at run time only through identity's admin
 * RPC SetEdgeRateLimits, which writes `oasis:edge:rate-limits` (JSON) with a TTL; every
 * edge reloads it every few seconds. An override without a TTL (written by hand) is
 * ignored, so a forgotten override always ends.
 *
 * When Redis does not answer: the auth class (sign-up, sign-in: the target of
 * credential stuffing) fails closed with 503; the other classes fail open, and so does
 * the revocation check, because a limiter outage must not become an app outage (their
 * abuse is bounded by the access token lifetime and the services' own limits).
 */
import type { Redis } from "ioredis";
import { Code, ConnectError } from "@connectrpc/connect";
import { rateLimitOverridesKey, revokedSessionKey } from "#kit/edge-keys.ts";
import { rateLimitFields } from "#kit/rate-limit-headers.ts";

/** One limit: `limit` requests per `periodSeconds`, bursting up to `limit`. */
export interface Limit {
  readonly limit: number;
  readonly periodSeconds: number;
}

/** Limits of a route class; a missing side is not limited. */
export interface ClassLimits {
  readonly perUser?: Limit;
  readonly perIp?: Limit;
}

export type RouteClass = "auth" | "read" | "write" | "upload" | "stream";

/**
 * Defaults, per class. auth: sign-up/sign-in per IP (credential stuffing: OWASP suggests
 * tight per-IP limits; identity also throttles per account). read/write: generous for
 * an app that scrolls and taps; upload: images are the expensive path.
 */
export const defaultLimits: Readonly<Record<RouteClass, ClassLimits>> = {
  auth: { perIp: { limit: 30, periodSeconds: 60 } },
  read: { perUser: { limit: 1200, periodSeconds: 60 }, perIp: { limit: 6000, periodSeconds: 60 } },
  write: { perUser: { limit: 300, periodSeconds: 60 }, perIp: { limit: 3000, periodSeconds: 60 } },
  upload: { perUser: { limit: 60, periodSeconds: 60 }, perIp: { limit: 300, periodSeconds: 60 } },
  // Opening a server stream (notifications): an app opens one per screen and reconnects
  // after network changes; 30 a minute leaves room for that and stops reconnect storms.
  stream: { perUser: { limit: 30, periodSeconds: 60 }, perIp: { limit: 300, periodSeconds: 60 } },
};

export interface Decision {
  readonly allowed: boolean;
  /** The binding limit (the one with fewer requests remaining). */
  readonly limit: number;
  readonly remaining: number;
  /** Seconds until the binding limit is fully replenished. */
  readonly resetSeconds: number;
  /** Seconds until a refused request would be admitted (0 when allowed). */
  readonly retryAfterSeconds: number;
}

// KEYS[1]: the session's revocation key (checked when ARGV[1] == '1');
// KEYS 2..n+1: limiter keys. ARGV after the first: per key (emission ms, burst ms); cost 1.
// Returns {-1} for a revoked session, else {allowed(0/1)} followed by per key
// {allowed(0/1), remaining, retry_after_ms, reset_ms} flattened.
export const gcraScript = `
if ARGV[1] == '1' and redis.call('EXISTS', KEYS[1]) == 1 then return {-1} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local n = #KEYS - 1
local results = {}
local allowed = 1
local tats = {}
for i = 1, n do
  local emission = tonumber(ARGV[2 * i])
  local tolerance = tonumber(ARGV[2 * i + 1])
  local tat = tonumber(redis.call('GET', KEYS[i + 1]) or now)
  if tat < now then tat = now end
  local new_tat = tat + emission
  local allow_at = new_tat - tolerance
  tats[i] = new_tat
  if now < allow_at then
    allowed = 0
    results[i] = {0, 0, allow_at - now, tat - now}
  else
    results[i] = {1, math.floor((now - allow_at) / emission), 0, new_tat - now}
  end
end
local out = {allowed}
for i = 1, n do
  if allowed == 1 then
    redis.call('SET', KEYS[i + 1], tats[i], 'PX', math.max(1, math.ceil(tats[i] - now)))
  end
  for j = 1, 4 do table.insert(out, results[i][j]) end
end
return out
`;

/** How long a request waits for the limiter before treating Redis as down, ms (a Lua call takes ~0.2 ms). */
const limiterTimeoutMs = 500;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("rate limiter timed out")), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export interface RateLimiterOptions {
  readonly redis: Redis;
  /** Called once per Redis round trip (metrics). */
  readonly onCall?: () => void;
  /** Reload limits from Redis this often. */
  readonly reloadMs?: number;
}

export class RateLimiter {
  private limits: Record<RouteClass, ClassLimits> = { ...defaultLimits };
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly opts: RateLimiterOptions) {
    opts.redis.defineCommand("oasisGcra", { lua: gcraScript });
  }

  /** Starts reloading the limits from Redis. */
  async start(): Promise<void> {
    await this.reload();
    this.timer = setInterval(() => void this.reload(), this.opts.reloadMs ?? 5_000);
    this.timer.unref?.();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** The limits in force (defaults merged with Redis overrides). */
  current(): Readonly<Record<RouteClass, ClassLimits>> {
    return this.limits;
  }

  private async reload(): Promise<void> {
    try {
      const out = await this.opts.redis.multi().get(rateLimitOverridesKey).pttl(rateLimitOverridesKey).exec();
      const raw = out?.[0]?.[1] as string | null;
      const ttlMs = Number(out?.[1]?.[1] ?? -2);
      // Only overrides with a TTL count (SetEdgeRateLimits always sets one).
      const overrides = raw && ttlMs > 0 ? (JSON.parse(raw) as Partial<Record<RouteClass, ClassLimits>>) : {};
      this.limits = { ...defaultLimits, ...overrides };
    } catch {
      // Keep the last good limits when Redis or the JSON is bad.
    }
  }

  /**
   * What a check of one request sends to Redis: the keys (the session's revocation key,
   * then the limiter keys, without the connection's key prefix) and the arguments of the
   * GCRA script, and the limits they stand for; undefined when there is nothing to
   * check (no limits for the class and no session).
   */
  plan(routeClass: RouteClass, userId: bigint | null, ip: string, sessionId?: string): LimitPlan | undefined {
    const cls = this.limits[routeClass] ?? {};
    const keys: string[] = [revokedSessionKey(sessionId ?? "")];
    const args: Array<string | number> = [sessionId ? "1" : "0"];
    const used: Limit[] = [];
    const add = (key: string, l: Limit | undefined) => {
      if (!l || l.limit <= 0) return;
      const emission = (l.periodSeconds * 1000) / l.limit;
      keys.push(key);
      args.push(emission, emission * l.limit);
      used.push(l);
    };
    if (userId !== null) add(`rl:${routeClass}:u:${userId}`, cls.perUser);
    add(`rl:${routeClass}:ip:${ip}`, cls.perIp);
    if (used.length === 0 && !sessionId) return undefined;
    return { routeClass, keys, args, used };
  }

  /** The key prefix of the limiter's connection: what `plan`'s keys get when sent on another connection. */
  get keyPrefix(): string {
    return (this.opts.redis.options as { keyPrefix?: string }).keyPrefix ?? "";
  }

  /**
   * Charges one request of `routeClass` for the user (if any) and the client IP, and
   * checks whether `sessionId` (the bearer token's session, if any) was revoked, in one
   * Redis call. `decision` is undefined when the class has no limits. When Redis does not
   * answer, the auth class throws `unavailable` (fails closed); the others pass.
   */
  async check(routeClass: RouteClass, userId: bigint | null, ip: string, sessionId?: string): Promise<{ revoked: boolean; decision?: Decision }> {
    const plan = this.plan(routeClass, userId, ip, sessionId);
    if (!plan) return { revoked: false };
    let out: number[];
    this.opts.onCall?.();
    try {
      // Redis down: decide now instead of queueing behind ioredis's reconnects (seconds).
      if (this.opts.redis.status !== "ready") throw new Error("redis not connected");
      const call = (this.opts.redis as unknown as { oasisGcra(n: number, ...a: Array<string | number>): Promise<number[]> }).oasisGcra(plan.keys.length, ...plan.keys, ...plan.args);
      out = await withTimeout(call, limiterTimeoutMs);
    } catch {
      if (routeClass === "auth") throw new ConnectError("sign-in is unavailable: its rate limiter cannot be reached", Code.Unavailable);
      return { revoked: false };
    }
    return verdictOf(plan, out);
  }
}

/** A check as sent to Redis (RateLimiter.plan). */
export interface LimitPlan {
  readonly routeClass: RouteClass;
  /** KEYS: the revocation key, then one per limit (without a connection prefix). */
  readonly keys: readonly string[];
  /** ARGV: "1" when a session is checked, then emission and burst (ms) per limit. */
  readonly args: ReadonlyArray<string | number>;
  readonly used: readonly Limit[];
}

/** What the GCRA script's reply `out` says of `plan`. */
export function verdictOf(plan: LimitPlan, out: readonly number[]): { revoked: boolean; decision?: Decision } {
  const used = plan.used;
  if (out[0] === -1) return { revoked: true };
  if (used.length === 0) return { revoked: false };
  const allowed = out[0] === 1;
  let binding = 0;
  for (let i = 1; i < used.length; i++) if (out[1 + i * 4 + 1]! < out[1 + binding * 4 + 1]!) binding = i;
  const at = (i: number, j: number) => out[1 + i * 4 + j]!;
  let retryMs = 0;
  for (let i = 0; i < used.length; i++) retryMs = Math.max(retryMs, at(i, 2));
  return {
    revoked: false,
    decision: {
      allowed,
      limit: used[binding]!.limit,
      remaining: allowed ? at(binding, 1) : 0,
      resetSeconds: Math.ceil(at(binding, 3) / 1000),
      retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil(retryMs / 1000)),
    },
  };
}

/**
 * RateLimit-Limit/-Remaining/-Reset response headers (draft-ietf-httpapi-ratelimit-headers,
 * names in kit/rate-limit-headers.ts) and, on a refusal, Retry-After in seconds.
 */
export function rateLimitHeaders(d: Decision): Record<string, string> {
  const h = rateLimitFields(d);
  if (!d.allowed) h["retry-after"] = String(d.retryAfterSeconds);
  return h;
}
