/**
 * The search page path (design note 29): an anonymous SearchPosts request is answered
 * from the page search stored in its Redis when it was computed at the generation that
 * is still current (services/search/page-path.ts, the one search module the edge may
 * import), in one Lua call and without the hop to search; anything else, a signed-in
 * viewer, a page not stored or stored before the last index or read-model change, or a
 * Redis failure, goes to search as before. Rate limits, kill switches and the access check
 * run before it as for every RPC (rpc-call.ts).
 *
 * Serve stale while one recomputes (design note 39, `OASIS_EDGE_SEARCH_STALE_MS`): the edge
 * keeps the last answer it had for each page with the time it was last known current
 * (`confirmedAt`: the start of the Redis read that found it current, or of the call to
 * search that computed it). When the stored page is no longer current (a bump, expiry,
 * a Redis failure), exactly one request per page starts a **flight** to search (a call
 * of its own, not bound to any client, capped at `flightTimeoutMs`) and every request
 * for that page, the starter too, is answered with the kept page while it was known
 * current less than the window ago; without such a page they wait for the flight if it
 * started less than the window ago (its answer is as fresh as its start), and otherwise
 * ask search themselves. So no answer is older than the window: a post created or
 * deleted (or taken down) more than the window ago, once its event's bump is in Redis,
 * is never hidden or served by this layer. The window stacks on search's own refresh
 * (250 ms) and the event path, inside the 1 s freshness contract: 500 ms by default.
 *
 * Early refresh (design note 32, off the request path since note 39): a page found in its
 * last `refreshBeforeMs` of life (stored pages live 30 s; search's own copy 20 s, so it
 * recomputes) is answered as usual and, once per page and `refreshGapMs`, a background
 * flight recomputes and stores it again, so a popular page never expires under its
 * readers. (Before note 39 one reader was let through to search instead, holding a
 * client for a whole computation: it lost in bench/search.ts.)
 *
 * Copies (design note 32): with `OASIS_EDGE_SEARCH_PAGE_COPIES` the edge names the stamp
 * of the page it keeps in the read; when the stored page is that very computation,
 * still current, Redis answers with the stamp alone and the edge serves its kept bytes:
 * the same answer, without 20 KB through Redis and the client for every search.
 * Freshness is unchanged: the counters, the key and the page's TTL are checked in Redis
 * on every request as before.
 *
 * Hold (design note 39, `OASIS_EDGE_SEARCH_PAGE_HOLD_MS`): a kept page known current less
 * than this ago is served without reading Redis at all (bounded by the stale window).
 *
 * OASIS_EDGE_SEARCH_PAGE_PATH [1] (0: always ask search), OASIS_EDGE_SEARCH_REDIS_URL [the
 * shared OASIS_REDIS_URL] (edge/config.ts), OASIS_EDGE_SEARCH_STALE_MS [500] (0: off, every
 * request for a page not current asks search; at most 900), OASIS_EDGE_SEARCH_EARLY_REFRESH
 * [1] (0: a page is served until it expires), OASIS_EDGE_SEARCH_PAGE_COPIES [0] (e.g. 2000; 0: no copies, every answer
 * comes through Redis), OASIS_EDGE_SEARCH_PAGE_HOLD_MS [250] (0: every request reads Redis; at most the stale window); read
 * here, the A/B switches of bench/search.ts. Metric: `edge_search_page_path_total{result}`
 * (hit: answered from Redis; held: from the kept page without Redis; stale: the kept page
 * while a flight recomputes it; shared: a flight's answer; miss: this request's answer
 * came from search; refresh: a background flight started before expiry; error: Redis
 * failed).
 */
import type { Message } from "@bufbuild/protobuf";
import { LRUCache } from "lru-cache";
import { Counter, type Registry } from "prom-client";
import type { Logger } from "#kit/logger.ts";
import { boolEnv, nonNegativeIntEnv } from "#kit/env.ts";
import { createRedis } from "#kit/redis.ts";
import { SearchService, type SearchPostsRequest } from "#gen/oasis/search/v1/search_service_pb.ts";
import { SearchPageReader } from "../services/search/page-path.ts";
import type { RoutedMethod } from "./registry.ts";

const postsPath = `/${SearchService.typeName}/${SearchService.method.searchPosts.name}`;

export interface SearchPagePath {
  /**
   * The answer's bytes from the page path, or undefined: ask search. `ask` calls search
   * for this very request in a flight of its own (no client's signal; the caller gives it
   * a deadline, `flightTimeoutMs`) and resolves to the answer's bytes; the page path calls
   * it at most once per page at a time. A request waiting for a flight waits until
   * `deadlineMs` (ms since the epoch; the client's deadline) at most. Never throws.
   */
  serve(routed: RoutedMethod, request: Message, viewer: bigint | null, ask: () => Promise<Uint8Array>, deadlineMs?: number): Promise<Uint8Array | undefined>;
  close(): void;
}

/** A page with less than this to live is recomputed early (a background flight), ms. */
export const refreshBeforeMs = 10_000;
/** Least time between two early refreshes of one page by this edge, ms: once per page life. */
export const refreshGapMs = refreshBeforeMs;
/** Deadline of a flight to search, ms. */
export const flightTimeoutMs = 5_000;
/** Largest stale window (and hold) accepted, ms: under the 1 s freshness contract. */
export const maxStaleMs = 900;
/** Bytes of kept pages held at most. */
const maxKeptBytes = 64 * 1024 * 1024;

/** `p`, or undefined once `deadlineMs` (ms since the epoch) passes if that comes first. */
function untilDeadline<T>(p: Promise<T>, deadlineMs: number | undefined): Promise<T | undefined> {
  if (deadlineMs === undefined || deadlineMs >= Date.now() + flightTimeoutMs) return p; // the flight's own deadline comes first
  let timer: Timer | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadlineMs - Date.now()))));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/** A page this edge keeps: its answer, the stamp of its computation ("" from a flight), when it was last known current. */
interface Kept {
  stamp: string;
  bytes: Uint8Array;
  confirmedAt: number;
}

/**
 * Builds the search page path on its own connection to search's Redis (`prefix`:
 * search's key prefix; `env` for the switches above, default process.env; `now`, ms on
 * a monotonic clock, default performance.now, for tests).
 */
export function createSearchPagePath(opts: {
  url: string;
  prefix: string;
  log: Logger;
  registry: Registry;
  env?: Record<string, string | undefined>;
  now?: () => number;
}): SearchPagePath {
  const results = new Counter({
    name: "edge_search_page_path_total",
    help: "Anonymous searches the search page path tried, by result (hit: answered from search's Redis; held: from the kept page without Redis; stale: the kept page while one flight recomputes it; shared: a flight's answer; miss: answered by search; refresh: a background flight before expiry; error: Redis failed).",
    labelNames: ["result"],
    registers: [opts.registry],
  });
  const counted = Object.fromEntries(["hit", "held", "stale", "shared", "miss", "refresh", "error"].map((r) => [r, results.labels(r)])) as Record<
    "hit" | "held" | "stale" | "shared" | "miss" | "refresh" | "error",
    ReturnType<typeof results.labels>
  >;
  const redis = createRedis({ url: opts.url, keyPrefix: "", log: opts.log });
  const reader = new SearchPageReader(redis, opts.prefix);
  const env = opts.env ?? process.env;
  const now = opts.now ?? (() => performance.now());
  const staleMs = Math.min(nonNegativeIntEnv(env, "OASIS_EDGE_SEARCH_STALE_MS", 500), maxStaleMs);
  const earlyRefresh = boolEnv(env, "OASIS_EDGE_SEARCH_EARLY_REFRESH", true);
  const maxCopies = nonNegativeIntEnv(env, "OASIS_EDGE_SEARCH_PAGE_COPIES", 0);
  const holdMs = Math.min(nonNegativeIntEnv(env, "OASIS_EDGE_SEARCH_PAGE_HOLD_MS", 250), staleMs);
  const keeps = staleMs > 0 || maxCopies > 0;
  /** Page key -> the page this edge keeps (least recently used out first, by count and bytes). */
  const kept = new LRUCache<string, Kept>({ max: Math.max(maxCopies, 2_000), maxSize: maxKeptBytes, sizeCalculation: (e) => e.bytes.byteLength + 64 });
  /** Page key -> the flight recomputing it now. */
  const flights = new Map<string, { startedAt: number; done: Promise<Uint8Array | undefined> }>();
  /** Page key -> when this edge last refreshed it early; insertion order is age. */
  const refreshed = new Map<string, number>();

  const keep = (key: string, stamp: string, bytes: Uint8Array, confirmedAt: number): Uint8Array => {
    const old = kept.get(key);
    if (old && old.confirmedAt > confirmedAt) return old.stamp === stamp ? old.bytes : bytes; // a newer one is kept
    if (old && stamp !== "" && old.stamp === stamp) {
      old.confirmedAt = confirmedAt;
      return old.bytes;
    }
    const own = new Uint8Array(bytes); // its own memory, not the Redis client's read buffer
    kept.set(key, { stamp, bytes: own, confirmedAt });
    return own;
  };
  const fly = (key: string, ask: () => Promise<Uint8Array>) => {
    const startedAt = now();
    const flight = {
      startedAt,
      done: ask().then(
        (bytes) => keep(key, "", bytes, startedAt),
        (err) => {
          opts.log.warn({ err: (err as Error).message }, "search page flight failed");
          return undefined;
        },
      ),
    };
    flights.set(key, flight);
    void flight.done.finally(() => flights.get(key) === flight && flights.delete(key));
    return flight;
  };

  return {
    async serve(routed, request, viewer, ask, deadlineMs) {
      if (viewer !== null || routed.path !== postsPath) return undefined;
      const req = request as unknown as SearchPostsRequest;
      const k = reader.keyOf(req);
      if (k === undefined) return undefined; // search refuses it (or it is not a page)
      const t0 = now();
      let held = kept.get(k.key);
      if (holdMs > 0 && held && t0 - held.confirmedAt < holdMs) {
        counted.held.inc();
        return held.bytes;
      }
      try {
        const page = await reader.read(req, maxCopies > 0 ? () => held?.stamp || undefined : undefined);
        if (page) {
          let bytes = page.bytes ?? held!.bytes; // no bytes: Redis named the copy held
          if (keeps) bytes = keep(page.key, page.stamp, bytes, t0);
          if (earlyRefresh && page.ttlMs >= 0 && page.ttlMs < refreshBeforeMs && !flights.has(page.key)) {
            const at = now();
            if (at - (refreshed.get(page.key) ?? Number.NEGATIVE_INFINITY) >= refreshGapMs) {
              refreshed.delete(page.key);
              refreshed.set(page.key, at);
              if (refreshed.size > 10_000) refreshed.delete(refreshed.keys().next().value!);
              counted.refresh.inc();
              fly(page.key, ask);
            }
          }
          counted.hit.inc();
          return bytes;
        }
      } catch (err) {
        counted.error.inc();
        opts.log.warn({ err: (err as Error).message }, "search page path failed");
      }
      if (staleMs === 0) {
        counted.miss.inc();
        return undefined;
      }
      // Not current: one flight recomputes it; the kept page while it is young enough.
      const t1 = now();
      let flight = flights.get(k.key);
      const mine = !flight;
      if (!flight) flight = fly(k.key, ask);
      held = kept.get(k.key);
      if (held && t1 - held.confirmedAt < staleMs) {
        counted.stale.inc();
        return held.bytes;
      }
      if (t1 - flight.startedAt < staleMs) {
        const bytes = await untilDeadline(flight.done, deadlineMs);
        if (bytes) {
          (mine ? counted.miss : counted.shared).inc();
          return bytes;
        }
      }
      counted.miss.inc();
      return undefined;
    },
    close: () => redis.disconnect(),
  };
}
