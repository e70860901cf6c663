/**
 * The feed's Redis state as tests need to see it: what fan-out actually stored. A feed
 * read cannot show this, because a read may rebuild a timeline from its sources and so
 * hide a push that was missed (or a post that was never removed).
 */
import { jetstreamManager, type JetStreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { Redis } from "ioredis";
import { streamName } from "#kit/bus.ts";
import type { TestMesh } from "#kit/testing/mesh.ts";

export interface FeedRedis {
  /** Deletes every key of the read model (read-model.ts); returns how many there were. */
  dropReadModel(): Promise<number>;
  /** How many keys the read model holds. */
  readModelKeys(): Promise<number>;
  /** Post ids stored in `reader`'s home timeline, newest first. */
  home(reader: bigint): Promise<bigint[]>;
  /** Post ids stored in `author`'s user timeline, newest first. */
  user(author: bigint): Promise<bigint[]>;
  /** For each post id, how many of `readers` hold it in their home timeline. */
  holders(readers: readonly bigint[], postIds: readonly bigint[]): Promise<number[]>;
  /** `author`'s follower set as the fan-out reads it (services/feed/followers.ts), sorted; undefined when not built. */
  followers(author: bigint): Promise<bigint[] | undefined>;
  /** Drops `author`'s follower set (the next fan-out rebuilds it from graph). */
  dropFollowers(author: bigint): Promise<void>;
  /** Authors marked as above the fan-out threshold. */
  celebs(): Promise<bigint[]>;
  /** Sets when `reader` last read their home feed (ms), as if they had read then. */
  setLastRead(reader: bigint, ms: number): Promise<void>;
  /** (post, home timeline) pairs ever pushed (timelines.ts `delivered:home`). */
  homeDeliveries(): Promise<number>;
  /**
   * Waits until the feed's consumers have handled every event published so far (nothing
   * undelivered, nothing unacknowledged), so an absence in Redis means "not pushed", not
   * "not yet". Throws after `timeoutMs`.
   */
  idle(timeoutMs?: number): Promise<void>;
  /**
   * Like `idle`, for every durable consumer of every stream of the mesh (notification and
   * interaction too), so no event handler calls a service while a test counts calls.
   */
  quiet(timeoutMs?: number): Promise<void>;
  close(): void;
}

const newestFirst = (a: bigint, b: bigint) => (a > b ? -1 : a < b ? 1 : 0);

/** Opens the feed's keys of a test mesh (`<namespace>:oasis:feed:`). */
export function feedRedis(mesh: TestMesh): FeedRedis {
  const prefix = `${mesh.namespace}:oasis:feed:`;
  const redis = new Redis(mesh.env.OASIS_REDIS_URL ?? "redis://127.0.0.1:6379", { keyPrefix: prefix });
  const plain = new Redis(mesh.env.OASIS_REDIS_URL ?? "redis://127.0.0.1:6379");
  return {
    async home(reader) {
      return (await redis.zrange(`ht:${reader}`, 0, "-1")).map(BigInt).sort(newestFirst);
    },
    async user(author) {
      return (await redis.zrange(`ut:${author}`, 0, "-1")).map(BigInt).sort(newestFirst);
    },
    async holders(readers, postIds) {
      const counts = postIds.map(() => 0);
      if (postIds.length === 0) return counts;
      const pipe = redis.pipeline();
      for (const r of readers) pipe.zmscore(`ht:${r}`, ...postIds.map(String));
      for (const [err, scores] of (await pipe.exec())!) {
        if (err) throw err;
        (scores as Array<string | null>).forEach((s, i) => s !== null && counts[i]!++);
      }
      return counts;
    },
    async dropReadModel() {
      const keys = await readModelKeys();
      if (keys.length) await plain.del(...keys);
      return keys.length;
    },
    async readModelKeys() {
      return (await readModelKeys()).length;
    },
    async followers(author) {
      const [[, built], [, ids]] = (await redis.pipeline().exists(`fo:b:${author}`).zrange(`fo:${author}`, "0", "-1").exec()) as [[null, number], [null, string[]]];
      return built === 1 ? ids.map(BigInt).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)) : undefined;
    },
    async dropFollowers(author) {
      await redis.del(`fo:${author}`, `fo:b:${author}`);
    },
    async celebs() {
      return (await redis.smembers("celebs")).map(BigInt);
    },
    async setLastRead(reader, ms) {
      await redis.zadd("active", ms, String(reader));
    },
    async homeDeliveries() {
      return Number((await redis.get("delivered:home")) ?? 0);
    },
    idle(timeoutMs = 30_000) {
      const ns = mesh.namespace;
      // The feed's consumers of these streams, whichever exist (OASIS_FEED_GRAPH_MERGED runs
      // one consumer of graph's events in place of three).
      return waitIdle(async (jsm) => {
        const out: Array<[string, string]> = [];
        for (const domain of ["post", "graph", "identity"]) {
          for await (const c of jsm.consumers.list(streamName(ns, domain))) if (c.name.startsWith(`${ns}-feed-`)) out.push([streamName(ns, domain), c.name]);
        }
        if (!out.some(([, name]) => name === `${ns}-feed-graph`) || !out.some(([, name]) => name === `${ns}-feed-fanout`)) throw new Error("the feed's consumers are not there");
        return out;
      }, timeoutMs);
    },
    quiet(timeoutMs = 30_000) {
      const prefix = `${mesh.namespace.toUpperCase()}_OASIS_`;
      return waitIdle(async (jsm) => {
        const out: Array<[string, string]> = [];
        for await (const s of jsm.streams.list()) {
          if (!s.config.name.startsWith(prefix)) continue;
          for await (const c of jsm.consumers.list(s.config.name)) out.push([s.config.name, c.name]);
        }
        return out;
      }, timeoutMs);
    },
    close: () => {
      redis.disconnect();
      plain.disconnect();
    },
  };

  /** Full names of the read model's keys (SCAN ignores ioredis's keyPrefix, so a client without one). */
  async function readModelKeys(): Promise<string[]> {
    const out: string[] = [];
    let cursor = "0";
    do {
      const [next, keys] = await plain.scan(cursor, "MATCH", `${prefix}rm:*`, "COUNT", 1000);
      out.push(...keys);
      cursor = next;
    } while (cursor !== "0");
    return out;
  }

  /** Polls the consumers `which` names until none has undelivered or unacknowledged events. */
  async function waitIdle(which: (jsm: JetStreamManager) => Promise<Array<[string, string]>>, timeoutMs: number) {
    const nc = await connect({ servers: mesh.env.OASIS_NATS_URL ?? "127.0.0.1:4222" });
    try {
      const jsm = await jetstreamManager(nc);
      const consumers = await which(jsm);
      for (const end = Date.now() + timeoutMs; ; await Bun.sleep(50)) {
        const infos = await Promise.all(consumers.map(([stream, name]) => jsm.consumers.info(stream, name)));
        if (infos.every((i) => i.num_pending === 0 && i.num_ack_pending === 0)) return;
        if (Date.now() > end) throw new Error(`consumers still busy after ${timeoutMs} ms`);
      }
    } finally {
      await nc.close();
    }
  }
}
