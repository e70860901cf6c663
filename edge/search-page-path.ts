/**
 * The search page path (design note 29): an anonymous SearchPosts request is answered
 * from the page search stored in its Redis when it was computed at the generation that
 * is still current (services/search/page-path.ts, the one search module the edge may
 * import), in one Lua call and without the hop to search; anything else, a signed-in
 * viewer, a page not stored or stored before the last index or read-model change, or a
 * Redis failure, goes to search as before. Rate limits, kill switches and the access check
 * run before it as for every RPC (rpc-call.ts).
 *
 * OASIS_EDGE_SEARCH_PAGE_PATH [1] (0: always ask search), OASIS_EDGE_SEARCH_REDIS_URL [the
 * shared OASIS_REDIS_URL] (edge/config.ts). Metric: `edge_search_page_path_total{result}`
 * (hit, miss, error).
 */
import type { Message } from "@bufbuild/protobuf";
import { Counter, type Registry } from "prom-client";
import type { Logger } from "#kit/logger.ts";
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

/** Builds the search page path on its own connection to search's Redis (`prefix`: search's key prefix). */
export function createSearchPagePath(opts: { url: string; prefix: string; log: Logger; registry: Registry }): SearchPagePath {
  const results = new Counter({ name: "edge_search_page_path_total", help: "Anonymous searches the search page path tried, by result (hit: answered from search's Redis; miss: asked search; error: asked search after a failure).", labelNames: ["result"], registers: [opts.registry] });
  const counted = { hit: results.labels("hit"), miss: results.labels("miss"), error: results.labels("error") };
  const redis = createRedis({ url: opts.url, keyPrefix: "", log: opts.log });
  const reader = new SearchPageReader(redis, opts.prefix);
  return {
    async serve(routed, request, viewer) {
      if (viewer !== null || routed.path !== postsPath) return undefined;
      try {
        const page = await reader.read(request as unknown as SearchPostsRequest);
        counted[page ? "hit" : "miss"].inc();
        return page;
      } catch (err) {
        counted.error.inc();
        opts.log.warn({ err: (err as Error).message }, "search page path failed; asking search");
        return undefined;
      }
    },
    close: () => redis.disconnect(),
  };
}
