/**
 * Snowflake worker ids (kit/ids.ts) must differ between live processes, or two of them
 * can mint the same id in the same millisecond. In Kubernetes every pod is pid 1 and
 * Deployments have no ordinals, so a process leases an id in Redis: `SET
 * oasis:worker:<n> <owner> NX EX 60` on the first free n, renewed every 20 s while it
 * runs and released at stop. OASIS_WORKER_ID, when set, wins (and skips the lease).
 */
import { hostname } from "node:os";
import { Redis } from "ioredis";
import type { Logger } from "./logger.ts";

export interface WorkerLease {
  readonly workerId: number;
  release(): Promise<void>;
}

const ttlSeconds = 60;
const renewMs = 20_000;
const space = 1024;

/** Leases a free worker id (0-1023) in Redis. */
export async function leaseWorkerId(redisUrl: string, log: Logger): Promise<WorkerLease> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 2, lazyConnect: true });
  await redis.connect();
  const owner = `${hostname()}:${process.pid}:${Math.random().toString(36).slice(2)}`;
  const start = Math.floor(Math.random() * space);
  for (let i = 0; i < space; i++) {
    const id = (start + i) % space;
    const key = `oasis:worker:${id}`;
    if ((await redis.set(key, owner, "EX", ttlSeconds, "NX")) === "OK") {
      const timer = setInterval(() => {
        // Renew only our own lease (a Lua compare-and-expire).
        void redis
          .eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('EXPIRE', KEYS[1], ARGV[2]) end return 0", 1, key, owner, ttlSeconds)
          .then((ok) => {
            if (ok !== 1) log.error({ workerId: id }, "worker id lease lost; ids may collide until restart");
          })
          .catch(() => {});
      }, renewMs);
      timer.unref?.();
      return {
        workerId: id,
        async release() {
          clearInterval(timer);
          await redis.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0", 1, key, owner).catch(() => {});
          redis.disconnect();
        },
      };
    }
  }
  redis.disconnect();
  throw new Error("no free worker id: 1024 processes hold leases");
}
