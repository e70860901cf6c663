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
 */
import { join } from "node:path";
import { baseConfig, type BaseConfig, type Env } from "#kit/config.ts";
import { stringEnv } from "#kit/env.ts";

const repoRoot = join(import.meta.dir, "..", "..");

export interface SearchConfig extends BaseConfig {
  readonly meiliUrl: string | undefined;
  readonly meiliKey: string | undefined;
  readonly dataDir: string;
  readonly indexPrefix: string;
  /** Results are presented from the read model (read-model.ts), not hydrated from the services. */
  readonly readModel: boolean;
}

export function loadSearchConfig(env: Env = process.env): SearchConfig {
  const base = baseConfig("search", env);
  return Object.freeze({
    ...base,
    meiliUrl: stringEnv(env, "OASIS_MEILI_URL"),
    meiliKey: stringEnv(env, "OASIS_MEILI_KEY"),
    dataDir: env.OASIS_SEARCH_DATA_DIR ?? join(repoRoot, ".data", "search", base.namespace || "default"),
    readModel: (env.OASIS_SEARCH_READ_MODEL ?? "1") !== "0",
    indexPrefix: env.OASIS_SEARCH_INDEX_PREFIX ?? `oasis_${base.namespace ? `${base.namespace}_` : ""}`,
  });
}
