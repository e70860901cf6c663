/**
 * Search's configuration. Env (optional, defaults in brackets):
 * - OASIS_MEILI_URL [unset]: a Meilisearch server (e.g. http://meilisearch:7700); unset
 *   means the embedded engine (SQLite FTS5, no server).
 * - OASIS_MEILI_KEY [unset]: Meilisearch's master or an admin API key (a secret).
 * - OASIS_SEARCH_DATA_DIR [.data/search/<namespace>]: the embedded engine's files.
 * - OASIS_SEARCH_INDEX_PREFIX [oasis_<namespace>_]: Meilisearch index uid prefix, so
 *   test namespaces never share indexes.
 * - OASIS_SEARCH_READ_MODEL [1]: results are presented from search's read model
 *   (read-model.ts); 0 hydrates them from post, identity, graph and interaction on
 *   every search (the A/B switch of bench/search.ts).
 * - OASIS_SEARCH_CACHE_ENTRIES [10000]: results kept by the request cache
 *   (request-cache.ts); 0 turns it off.
 * - OASIS_SEARCH_REFRESH_MS [250]: least time between two reads of the index and read
 *   model generations the request cache checks entries against, ms (how long a change
 *   may take to reach results, like Elasticsearch's refresh_interval; keep it well
 *   under the 1 s freshness contract).
 * - OASIS_SEARCH_QUERY_INVALIDATION [1]: a new post (not a refer-to) ends only the
 *   cached pages of the queries it may match (domain/query-match.ts, design note 32); 0:
 *   every post event ends every page (the A/B switch of bench/search.ts). Embedded
 *   engine only.
 * - OASIS_SEARCH_TIER_WALKS [1]: a typo-tolerant post query reads exact matches, then
 *   typo-only ones, each newest first up to the page (store.ts); 0: one query ranks
 *   every match (bench/search.ts's "engine alone" A/B).
 */
import { join } from "node:path";
import { baseConfig, type BaseConfig, type Env } from "#kit/config.ts";
import { boolEnv, nonNegativeIntEnv, positiveIntEnv, stringEnv } from "#kit/env.ts";

const repoRoot = join(import.meta.dir, "..", "..");

export interface SearchConfig extends BaseConfig {
  readonly meiliUrl: string | undefined;
  readonly meiliKey: string | undefined;
  readonly dataDir: string;
  readonly indexPrefix: string;
  /** Results are presented from the read model (read-model.ts), not hydrated from the services. */
  readonly readModel: boolean;
  /** Request cache entries at most; 0: no request cache. */
  readonly cacheEntries: number;
  /** Least time between two reads of the generations, ms. */
  readonly refreshMs: number;
  /** A new post bumps only the queries it may match (embedded engine only). */
  readonly queryInvalidation: boolean;
  /** Typo-tolerant post queries walk the two tiers in turn (store.ts). */
  readonly tierWalks: boolean;
}

export function loadSearchConfig(env: Env = process.env): SearchConfig {
  const base = baseConfig("search", env);
  return Object.freeze({
    ...base,
    meiliUrl: stringEnv(env, "OASIS_MEILI_URL"),
    meiliKey: stringEnv(env, "OASIS_MEILI_KEY"),
    dataDir: env.OASIS_SEARCH_DATA_DIR ?? join(repoRoot, ".data", "search", base.namespace || "default"),
    readModel: (env.OASIS_SEARCH_READ_MODEL ?? "1") !== "0",
    cacheEntries: nonNegativeIntEnv(env, "OASIS_SEARCH_CACHE_ENTRIES", 10_000),
    refreshMs: positiveIntEnv(env, "OASIS_SEARCH_REFRESH_MS", 250),
    queryInvalidation: boolEnv(env, "OASIS_SEARCH_QUERY_INVALIDATION", true),
    tierWalks: boolEnv(env, "OASIS_SEARCH_TIER_WALKS", true),
    indexPrefix: env.OASIS_SEARCH_INDEX_PREFIX ?? `oasis_${base.namespace ? `${base.namespace}_` : ""}`,
  });
}
