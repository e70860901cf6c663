/**
 * Operator side of the edge's run-time rate limits: writes or clears the Redis key
 * (`[<namespace>:]oasis:edge:rate-limits`) that every edge replica reloads every 5 s
 * (see rate-limit.ts). Bulk importers (the demo loader) and benchmarks drive the edge
 * from one IP far above any real client's rate; they raise the limits through this same
 * key instead of turning the limiter off, so every request still pays for its GCRA
 * check, and clear it afterwards so the defaults apply again.
 */
import { Redis } from "ioredis";
import type { ClassLimits, RouteClass } from "./rate-limit.ts";

/** How long edges take to pick up a change: their reload period (5 s) plus slack, ms. */
export const limitsReloadMs = 5_500;

function limitsKey(namespace: string): string {
  return `${namespace ? `${namespace}:` : ""}oasis:edge:rate-limits`;
}

/**
 * Sets the run-time limits (partial: classes not named keep their defaults), or clears
 * them with `null`. Waits until every edge has reloaded unless `wait` is false.
 */
export async function setEdgeLimits(
  redisUrl: string,
  namespace: string,
  limits: Partial<Record<RouteClass, ClassLimits>> | null,
  wait = true,
): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
  try {
    if (limits) await redis.set(limitsKey(namespace), JSON.stringify(limits));
    else await redis.del(limitsKey(namespace));
  } finally {
    redis.disconnect();
  }
  if (wait) await Bun.sleep(limitsReloadMs);
}

/** Limits no single importer reaches (10^8 requests a minute on every class and key). */
export const bulkImportLimits: Readonly<Record<RouteClass, ClassLimits>> = (() => {
  const huge = { limit: 100_000_000, periodSeconds: 60 };
  const all = { perUser: huge, perIp: huge };
  return { auth: all, read: all, write: all, upload: all };
})();

/** Raises every limit out of reach (benchmarks). */
export function raiseEdgeLimits(redisUrl: string, namespace: string): Promise<void> {
  return setEdgeLimits(redisUrl, namespace, bulkImportLimits);
}
