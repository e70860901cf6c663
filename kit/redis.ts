/**
 * Redis (ioredis) for one service: every key gets the service's prefix
 * (`oasis:<service>:`, namespaced in tests), so services sharing a Redis never touch
 * each other's keys and a test's keys can be deleted by prefix.
 */
import { Redis } from "ioredis";
import type { Logger } from "./logger.ts";

export type { Redis };

export interface RedisOptions {
  readonly url: string;
  readonly keyPrefix: string;
  readonly log: Logger;
}

export function createRedis(opts: RedisOptions): Redis {
  const redis = new Redis(opts.url, {
    keyPrefix: opts.keyPrefix,
    // Fail a command after two reconnect attempts instead of queueing it forever: every
    // call has a deadline, and a caller can fall back (e.g. rebuild from MySQL).
    maxRetriesPerRequest: 2,
    connectTimeout: 5_000,
    enableAutoPipelining: true,
  });
  redis.on("error", (err) => opts.log.warn({ err: err.message }, "redis error"));
  return redis;
}

/** Deletes every key under `prefix` (tests). SCAN, not KEYS, so Redis keeps serving. */
export async function deleteKeysWithPrefix(url: string, prefix: string): Promise<number> {
  if (!prefix) throw new Error("refusing to delete without a prefix");
  const redis = new Redis(url, { maxRetriesPerRequest: 2 });
  let deleted = 0;
  try {
    let cursor = "0";
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
      cursor = next;
      if (keys.length) deleted += await redis.unlink(...keys);
    } while (cursor !== "0");
  } finally {
    redis.disconnect();
  }
  return deleted;
}
