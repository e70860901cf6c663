/**
 * The search page path (design note 29): an anonymous SearchPosts request is answered
 * from the page search stored in its Redis when it was computed at the generation that
 * is still current (services/search/page-path.ts, the one search module the edge may
 * import), in one Lua call and without the hop to search; anything else, a signed-in
 * viewer, a page not stored or stored before the last index or read-model change, or a
 * Redis failure, goes to search as before. Rate limits, kill switches and the access check
 * run before it as for every RPC (rpc-call.ts).
 *
 * Early refresh (design note 32): a page found in its last `refreshBeforeMs` of life
 * (stored pages live 30 s; search's own copy 20 s) is answered as usual, except that
 * one request per page and `refreshGapMs` (once per window) goes to search instead, which recomputes it
 * and stores it again. Without it every popular page expired every 30 s, and all the
 * requests for it in flight until search had stored it again missed together.
 *
 * Copies (design note 32): the edge keeps the last answer it got for a page (at most
 * `copies` pages and 64 MiB) with the stamp of its computation, and names that stamp in
 * the read; when the stored page is that very computation, still current, Redis answers
 * with the stamp alone and the edge serves its copy: the same answer, without 20 KB
 * through Redis and the client for every search. Freshness is unchanged: the counters,
 * the key and the page's TTL are checked in Redis on every request as before.
 *
 * OASIS_EDGE_SEARCH_PAGE_PATH [1] (0: always ask search), OASIS_EDGE_SEARCH_REDIS_URL [the
 * shared OASIS_REDIS_URL] (edge/config.ts), OASIS_EDGE_SEARCH_EARLY_REFRESH [0] (1: on; 0: a
 * page is served until it expires), OASIS_EDGE_SEARCH_PAGE_COPIES [0] (e.g. 2000; 0: no
 * copies, every answer comes through Redis); both read here, the A/B switches of bench/search.ts. Metric:
 * `edge_search_page_path_total{result}` (hit, miss, refresh: let through to search to be
 * recomputed, error).
 */
import type { Message } from "@bufbuild/protobuf";
import { Counter, type Registry } from "prom-client";
import type { Logger } from "#kit/logger.ts";
import { boolEnv, nonNegativeIntEnv } from "#kit/env.ts";
import { createRedis } from "#kit/redis.ts";
import { SearchService, type SearchPostsRequest } from "#gen/oasis/search/v1/search_service_pb.ts";
import { SearchPageReader } from "../services/search/page-path.ts";
import type { RoutedMethod } from "./registry.ts";

const postsPath = `/${SearchService.typeName}/${SearchService.method.searchPosts.name}`;

export interface SearchPagePath {
  /** The stored answer's bytes, or undefined: ask search. Never throws. */
  serve(routed: RoutedMethod, request: Message, viewer: bigint | null): Promise<Uint8Array | undefined>;
  close(): void;
}

/** A page with less than this to live is recomputed early (one request goes to search), ms. */
export const refreshBeforeMs = 10_000;
/** Bytes of copies held at most. */
const maxCopyBytes = 64 * 1024 * 1024;
/**
 * Least time between two early refreshes of one page by this edge, ms: the whole early
 * window, so a page is let through once per life. (2 s let a page that search was slow to
 * recompute through again and again: at load 50-60, 60% of D's searches went to search.)
 */
export const refreshGapMs = refreshBeforeMs;

/**
 * Builds the search page path on its own connection to search's Redis (`prefix`:
 * search's key prefix; `env` for OASIS_EDGE_SEARCH_EARLY_REFRESH and
 * OASIS_EDGE_SEARCH_PAGE_COPIES, default process.env).
 */
export function createSearchPagePath(opts: { url: string; prefix: string; log: Logger; registry: Registry; env?: Record<string, string | undefined> }): SearchPagePath {
  const results = new Counter({ name: "edge_search_page_path_total", help: "Anonymous searches the search page path tried, by result (hit: answered from search's Redis; miss: asked search; refresh: asked search to recompute a page about to expire; error: asked search after a failure).", labelNames: ["result"], registers: [opts.registry] });
  const counted = { hit: results.labels("hit"), miss: results.labels("miss"), refresh: results.labels("refresh"), error: results.labels("error") };
  const redis = createRedis({ url: opts.url, keyPrefix: "", log: opts.log });
  const reader = new SearchPageReader(redis, opts.prefix);
  const env = opts.env ?? process.env;
  // Both off by default: neither paid in bench/search.ts at load 37-44 (design note 32).
  const earlyRefresh = boolEnv(env, "OASIS_EDGE_SEARCH_EARLY_REFRESH", false);
  const maxCopies = nonNegativeIntEnv(env, "OASIS_EDGE_SEARCH_PAGE_COPIES", 0);
  /** Page key -> the last answer read for it and its stamp; insertion order is age. */
  const copies = new Map<string, { stamp: string; bytes: Uint8Array }>();
  let copiedBytes = 0;
  const keep = (key: string, stamp: string, reply: Uint8Array): Uint8Array => {
    const bytes = new Uint8Array(reply); // its own memory, not the Redis client's read buffer
    const old = copies.get(key);
    if (old) (copies.delete(key), (copiedBytes -= old.bytes.byteLength));
    copies.set(key, { stamp, bytes });
    copiedBytes += bytes.byteLength;
    while (copies.size > maxCopies || copiedBytes > maxCopyBytes) {
      const [k, e] = copies.entries().next().value!;
      copies.delete(k);
      copiedBytes -= e.bytes.byteLength;
    }
    return bytes;
  };
  /** Page key -> when this edge last let a request through to refresh it (performance.now ms). */
  const refreshed = new Map<string, number>();
  return {
    async serve(routed, request, viewer) {
      if (viewer !== null || routed.path !== postsPath) return undefined;
      try {
        let held: { stamp: string; bytes: Uint8Array } | undefined;
        const page = await reader.read(request as unknown as SearchPostsRequest, maxCopies > 0 ? (key) => (held = copies.get(key))?.stamp : undefined);
        if (!page) {
          counted.miss.inc();
          return undefined;
        }
        if (earlyRefresh && page.ttlMs >= 0 && page.ttlMs < refreshBeforeMs) {
          const now = performance.now();
          if (now - (refreshed.get(page.key) ?? Number.NEGATIVE_INFINITY) >= refreshGapMs) {
            refreshed.delete(page.key);
            refreshed.set(page.key, now);
            if (refreshed.size > 10_000) refreshed.delete(refreshed.keys().next().value!);
            counted.refresh.inc();
            return undefined;
          }
        }
        let bytes = page.bytes;
        if (bytes === undefined) bytes = held!.bytes; // Redis named the copy held
        else if (maxCopies > 0) bytes = keep(page.key, page.stamp, bytes);
        counted.hit.inc();
        return bytes;
      } catch (err) {
        counted.error.inc();
        opts.log.warn({ err: (err as Error).message }, "search page path failed; asking search");
        return undefined;
      }
    },
    close: () => redis.disconnect(),
  };
}
