/**
 * The edge's configuration. Env (optional, local-dev defaults in brackets):
 * OASIS_EDGE_PORT [8080], OASIS_EDGE_MAX_BODY_BYTES [1048576] (JSON bodies),
 * OASIS_EDGE_TIMEOUT_MS [10000] (upstream deadline when the client sets none),
 * OASIS_EDGE_MAX_TIMEOUT_MS [30000] (cap on client-requested deadlines),
 * OASIS_JWKS_URL [<first identity URL>/.well-known/jwks.json], OASIS_EDGE_JWKS_COOLDOWN_MS
 * [30000] (least time between JWKS refetches for an unknown key id),
 * OASIS_EDGE_UPSTREAMS [all mesh services] (comma list), OASIS_EDGE_CORS_ORIGINS [*],
 * OASIS_EDGE_TRUSTED_PROXIES [0] (proxies appending to X-Forwarded-For),
 * OASIS_EDGE_METRICS_PORT [9080] (admin port: /metrics, probes),
 * OASIS_EDGE_ACCESS_LOG_RATE [50] (access log lines per second before sampling),
 * OASIS_EDGE_ACCESS_LOG_SAMPLE [0.01] (share of requests logged above that),
 * OASIS_EDGE_JSON_REUSE_ENTRIES [2000] (JSON renderings of read answers kept for identical
 * answers, json-reuse.ts; 0: off),
 * OASIS_EDGE_REQUEST_MEMO_ENTRIES [10000] (request messages of bodiless REST requests kept by
 * method, path and query, rest.ts; 0: built every time),
 * OASIS_EDGE_PAGE_PATH [1] (serve home and user timeline pages from the feed's Redis,
 * page-path.ts; 0: always ask the feed), OASIS_EDGE_PAGE_REUSE_ENTRIES [20000] (pages the page
 * path keeps with the Lua reply they came from, answered again for the same request and
 * reply, services/feed/page-path/reuse.ts; 0: off), OASIS_EDGE_PAGE_ITEM_ENTRIES [20000] (timeline
 * items kept rendered, encoded PostView and JSON, by the bytes of their pieces; pages and their
 * JSON assembled from them, services/feed/page-path/items.ts; 0: off), OASIS_EDGE_PAGE_LIMIT_IN_SCRIPT [1] (the
 * rate limit of a signed-in timeline read runs in the page path's Lua call, one round trip,
 * when the feed's Redis is the edge's; 0: its own call first), OASIS_EDGE_PAGE_TRACKING [1] (kept
 * pages' keys tracked on the page path's connection, Redis client-side caching: a kept page
 * nothing of which changed is answered after the rate limit and the timeline's checks, its
 * pieces not read; services/feed/page-path/tracking.ts; 0: every kept page read again), OASIS_EDGE_PAGE_TIGHT_WINDOW [1] (a page of N posts
 * hydrates N + 2 posts, not the feed's 1.5 N + 2; read again with the feed's window when fewer than N
 * of them are visible; design note 46; 0: the feed's window), OASIS_EDGE_PAGE_HELD_ENTRIES [50000] (posts, counters
 * and profiles held by the page path, tracked on its connection, pages read without them;
 * services/feed/page-path/held.ts, design note 51; 0: off), OASIS_EDGE_PAGE_WATCHED_KEYS [1] (the page
 * path remembers which keys Redis tracks for its connection and a tracked read reads only the
 * others with EXISTS; tracking.ts watchedKeys, design note 59; 0: every key of the page each time), OASIS_EDGE_PAGE_COALESCE [1] (the page path's connection sends the
 * commands of one event-loop turn in one socket write, kit/redis.ts coalesceWrites, design note 59;
 * 0: one write per command), OASIS_EDGE_PAGE_SPLICE [1] (rendered items keep their JSON as UTF-8
 * bytes, a page's JSON is spliced from them and answered as bytes; items.ts pageJsonBytes,
 * design note 59), OASIS_EDGE_REL_SETS [1] (the page
 * path answers a relationship it lacks from the viewer's relationship set in the feed's Redis,
 * loaded with one ListRelationships call per viewer, instead of asking graph for each pair;
 * services/feed/page-path/pieces.ts relSetKey), OASIS_EDGE_REL_SET_MAX [10000] (relationships a
 * set holds at most; a viewer with more keeps pair fills; 0: pair fills only), OASIS_EDGE_REL_SET_AMEND [1]
 * (a follow, mute, block... through the edge amends the writer's set in place, one
 * BatchGetRelationships as the writer, design note 50; 0: drops it, the next unknown
 * relationship loads it again), OASIS_EDGE_REL_WRITE_ONE_TRIP [1] (after such a write, the
 * fence or drops of both users' sets and the pairs' invalidation in one Redis round trip
 * instead of three, design note 61; 0: one after another), OASIS_EDGE_PAGE_FILL_COUNTS [1]
 * (counters and viewer state the read model lacks, expired after 5 minutes or dropped by a like,
 * are asked of interaction by the page path, stored as the feed stores them and the page served;
 * 0: such a page is a miss and the feed answers it), OASIS_EDGE_PAGE_AUTOPIPELINE [0] (the page path's
 * connection writes each command when made; 1: ioredis auto-pipelining, a tick's commands batched and each batch waiting for the last one's replies; bench/README.md "Measured at stop 28"), OASIS_EDGE_FEED_REDIS_URL [OASIS_REDIS_URL] (the
 * feed's Redis, read by the page path), OASIS_EDGE_SEARCH_PAGE_PATH [1] (answer anonymous
 * searches from the pages search stored in its Redis while current, search-page-path.ts;
 * 0: always ask search), OASIS_EDGE_SEARCH_REDIS_URL [OASIS_REDIS_URL] (search's Redis),
 * plus the shared
 * variables of kit/config.ts (upstream URLs, Redis, OASIS_HOST, OASIS_DEV) and the edge's
 * mesh key OASIS_MESH_KEY_EDGE with OASIS_MESH_PUBLIC_KEYS (kit/mesh-keys.ts).
 */
import { metricsPortOffset, processSecurity, sharedConfig, type Env } from "#kit/config.ts";
import { boolEnv, intEnv, stringEnv } from "#kit/env.ts";
import type { MeshIdentity } from "#kit/mesh-keys.ts";
import { targetHttpUrl } from "#kit/discovery.ts";
import { edgeKeyPrefix } from "#kit/edge-keys.ts";
import { edgePort } from "../mesh.config.ts";

export interface EdgeConfig extends ReturnType<typeof sharedConfig> {
  readonly host: string;
  readonly port: number;
  /** Admin port for /metrics and the probes; 0 picks a free one (tests). */
  readonly metricsPort: number;
  /** The edge's mesh identity ("edge"): signs the assertion of every upstream call. */
  readonly mesh: MeshIdentity;
  /** Dev mode (OASIS_DEV=1): loopback only. */
  readonly dev: boolean;
  /** Largest JSON/Protobuf request body, bytes. 1 MiB holds any caption or profile. */
  readonly maxBodyBytes: number;
  readonly defaultTimeoutMs: number;
  readonly maxTimeoutMs: number;
  /** Where identity publishes its public signing keys. */
  readonly jwksUrl: string;
  /** Least time between JWKS refetches for unknown key ids, ms. */
  readonly jwksCooldownMs: number;
  readonly issuer: string;
  readonly audience: string;
  /** Allowed CORS origins, or ["*"]. */
  readonly corsOrigins: readonly string[];
  /**
   * Proxies in front of the edge that append to X-Forwarded-For. 0 (default): trust
   * none, the client IP is the TCP peer; right behind an L4 load balancer (deploy/k8s:
   * a LoadBalancer Service with `externalTrafficPolicy: Local`, so kube-proxy keeps the
   * client's address), where any X-Forwarded-For is the client's own invention. Set N
   * only when exactly N L7 proxies (an ingress, a CDN) each append the address they saw,
   * and clients cannot reach the edge around them.
   */
  readonly trustedProxies: number;
  /** Access log lines per second logged in full (access-log.ts). */
  readonly accessLogRate: number;
  /** Share (0-1) of the requests above `accessLogRate` that are logged. */
  readonly accessLogSample: number;
  /** JSON renderings of read answers kept for identical answers (json-reuse.ts); 0: none. */
  readonly jsonReuseEntries: number;
  /** Redis key prefix for the edge's own keys (rate limits). */
  readonly redisKeyPrefix: string;
  /** Timeline pages are served from the feed's Redis when it can (page-path.ts). */
  readonly pagePath: boolean;
  /** Request messages of bodiless REST requests kept by method, path and query (rest.ts); 0: none. */
  readonly requestMemoEntries: number;
  /** The rate limit of a signed-in timeline read runs in the page's Lua call (when the feed's Redis is the edge's). */
  readonly pageLimitInScript: boolean;
  /** Pages the page path keeps for the same request and Lua reply; 0: none. */
  readonly pageReuseEntries: number;
  /**
   * OASIS_EDGE_PAGE_ITEM_ENTRIES: timeline items kept rendered (encoded PostView and its
   * JSON) by the bytes of their pieces, pages assembled from them (services/feed/page-path/items.ts); 0: off.
   */
  readonly pageItemEntries: number;
  /**
   * OASIS_EDGE_PAGE_TRACKING: kept pages' keys tracked on the page path's connection (Redis
   * client-side caching, services/feed/page-path/tracking.ts): a kept page nothing of which
   * changed is answered after the rate limit and the timeline's checks alone.
   */
  readonly pageTracking: boolean;
  /** OASIS_EDGE_PAGE_TIGHT_WINDOW: a page hydrates its size + 2 posts, the feed's window only when too few are visible (design note 46). */
  readonly pageTightWindow: boolean;
  /** OASIS_EDGE_PAGE_HELD_ENTRIES: pieces every viewer shares held by the page path, tracked, and pages read lean (held.ts, design note 51); 0: off. */
  readonly pageHeldEntries: number;
  /** OASIS_EDGE_PAGE_WATCHED_KEYS: a tracked read reads with EXISTS only the keys Redis does not track for the connection yet (tracking.ts watchedKeys, design note 59). */
  readonly pageWatchedKeys: boolean;
  /** OASIS_EDGE_PAGE_COALESCE: the page path's connection sends one event-loop turn's commands in one socket write (kit/redis.ts coalesceWrites, design note 59). */
  readonly pageCoalesce: boolean;
  /** OASIS_EDGE_PAGE_SPLICE: pages' JSON spliced from items' UTF-8 bytes and answered as bytes (items.ts pageJsonBytes, design note 59). */
  readonly pageSplice: boolean;
  /** OASIS_EDGE_REL_SETS: relationships the page path lacks come from the viewer's set (one load per viewer). */
  readonly relSets: boolean;
  /** OASIS_EDGE_REL_SET_AMEND: a relationship write through the edge amends the writer's set in place (else drops it). */
  readonly relSetAmend: boolean;
  /** OASIS_EDGE_REL_WRITE_ONE_TRIP: after a relationship write, the sets' and pairs' Redis commands in one round trip. */
  readonly relWriteOneTrip: boolean;
  /** OASIS_EDGE_REL_SET_MAX: relationships a set holds at most. */
  readonly relSetMax: number;
  /** OASIS_EDGE_PAGE_FILL_COUNTS: counters and viewer state the page path lacks are asked of interaction and stored, not left to the feed. */
  readonly pageFillCounts: boolean;
  /** OASIS_EDGE_PAGE_AUTOPIPELINE: ioredis auto-pipelining on the page path's connection (kit/redis.ts). */
  readonly pageAutoPipelining: boolean;
  /** The feed's Redis and key prefix, read by the page path. */
  readonly feedRedisUrl: string;
  readonly feedRedisPrefix: string;
  /** Anonymous searches are answered from pages search stored in its Redis when current (search-page-path.ts). */
  readonly searchPagePath: boolean;
  /** Search's Redis (its stored pages and generation counters). */
  readonly searchRedisUrl: string;
  /** Search's key prefix in it. */
  readonly searchRedisPrefix: string;
}

const int = intEnv;

function share(env: Env, key: string, fallback: number): number {
  const v = env[key];
  if (v === undefined || v === "") return fallback;
  const n = Number(v);
  if (!(n >= 0 && n <= 1)) throw new Error(`${key} must be a number from 0 to 1`);
  return n;
}

export function loadEdgeConfig(env: Env = process.env): EdgeConfig {
  const all = sharedConfig(env);
  // OASIS_EDGE_UPSTREAMS limits the services the edge routes to and waits for (a partial
  // mesh in tests, or an edge in front of some services only); default: all of them.
  const only = env.OASIS_EDGE_UPSTREAMS?.split(",").map((s) => s.trim()).filter(Boolean);
  const upstreams = only ? Object.fromEntries(Object.entries(all.upstreams).filter(([k]) => only.includes(k))) : all.upstreams;
  const shared = { ...all, upstreams };
  const { mesh, dev, host } = processSecurity("edge", env);
  const port = int(env, "OASIS_EDGE_PORT", edgePort);
  return Object.freeze({
    ...shared,
    host,
    mesh,
    dev,
    port,
    metricsPort: int(env, "OASIS_EDGE_METRICS_PORT", port === 0 ? 0 : port + metricsPortOffset),
    maxBodyBytes: int(env, "OASIS_EDGE_MAX_BODY_BYTES", 1024 * 1024),
    defaultTimeoutMs: int(env, "OASIS_EDGE_TIMEOUT_MS", 10_000),
    maxTimeoutMs: int(env, "OASIS_EDGE_MAX_TIMEOUT_MS", 30_000),
    jwksUrl: env.OASIS_JWKS_URL ?? `${targetHttpUrl(all.upstreams.identity?.[0] ?? "http://127.0.0.1:7001")}/.well-known/jwks.json`,
    jwksCooldownMs: int(env, "OASIS_EDGE_JWKS_COOLDOWN_MS", 30_000),
    issuer: "oasis.identity",
    audience: "oasis",
    corsOrigins: (env.OASIS_EDGE_CORS_ORIGINS ?? "*").split(",").map((s) => s.trim()).filter(Boolean),
    trustedProxies: int(env, "OASIS_EDGE_TRUSTED_PROXIES", 0),
    redisKeyPrefix: edgeKeyPrefix(all.namespace),
    accessLogRate: int(env, "OASIS_EDGE_ACCESS_LOG_RATE", 50),
    accessLogSample: share(env, "OASIS_EDGE_ACCESS_LOG_SAMPLE", 0.01),
    jsonReuseEntries: int(env, "OASIS_EDGE_JSON_REUSE_ENTRIES", 2000, { min: 0 }),
    pagePath: boolEnv(env, "OASIS_EDGE_PAGE_PATH", true),
    requestMemoEntries: int(env, "OASIS_EDGE_REQUEST_MEMO_ENTRIES", 10_000, { min: 0 }),
    pageLimitInScript: boolEnv(env, "OASIS_EDGE_PAGE_LIMIT_IN_SCRIPT", true),
    pageReuseEntries: int(env, "OASIS_EDGE_PAGE_REUSE_ENTRIES", 20_000, { min: 0 }),
    pageItemEntries: int(env, "OASIS_EDGE_PAGE_ITEM_ENTRIES", 20_000, { min: 0 }),
    pageTracking: boolEnv(env, "OASIS_EDGE_PAGE_TRACKING", true),
    pageTightWindow: boolEnv(env, "OASIS_EDGE_PAGE_TIGHT_WINDOW", true),
    pageHeldEntries: int(env, "OASIS_EDGE_PAGE_HELD_ENTRIES", 50_000, { min: 0 }),
    pageWatchedKeys: boolEnv(env, "OASIS_EDGE_PAGE_WATCHED_KEYS", true),
    pageCoalesce: boolEnv(env, "OASIS_EDGE_PAGE_COALESCE", true),
    pageSplice: boolEnv(env, "OASIS_EDGE_PAGE_SPLICE", true),
    relSets: boolEnv(env, "OASIS_EDGE_REL_SETS", true),
    relSetMax: int(env, "OASIS_EDGE_REL_SET_MAX", 10_000, { min: 0, max: 10_000 }),
    relSetAmend: boolEnv(env, "OASIS_EDGE_REL_SET_AMEND", true),
    relWriteOneTrip: boolEnv(env, "OASIS_EDGE_REL_WRITE_ONE_TRIP", true),
    pageFillCounts: boolEnv(env, "OASIS_EDGE_PAGE_FILL_COUNTS", true),
    pageAutoPipelining: boolEnv(env, "OASIS_EDGE_PAGE_AUTOPIPELINE", false),
    feedRedisUrl: stringEnv(env, "OASIS_EDGE_FEED_REDIS_URL", all.redisUrl),
    feedRedisPrefix: `${all.namespace ? `${all.namespace}:` : ""}oasis:feed:`,
    searchPagePath: boolEnv(env, "OASIS_EDGE_SEARCH_PAGE_PATH", true),
    searchRedisUrl: stringEnv(env, "OASIS_EDGE_SEARCH_REDIS_URL", all.redisUrl),
    searchRedisPrefix: `${all.namespace ? `${all.namespace}:` : ""}oasis:search:`,
  });
}
