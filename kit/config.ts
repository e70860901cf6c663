/**
 * Environment -> typed, frozen configuration. Only config modules read `process.env`;
 * everything else takes a config object, so tests start any process with overrides.
 *
 * Shared variables (all optional, local-dev defaults in brackets):
 * - OASIS_MYSQL_URL [mysql://root@127.0.0.1:3306]
 * - OASIS_REDIS_URL [redis://127.0.0.1:6379]
 * - OASIS_NATS_URL [nats://127.0.0.1:4222]
 * - OASIS_NAMESPACE [""]: isolates one mesh from another on the same infrastructure:
 *   databases `oasis_<ns>_<service>`, Redis keys `<ns>:oasis:<service>:`, NATS subjects
 *   `<ns>.oasis.>` and stream names `<NS>_OASIS_<DOMAIN>`. Tests set a fresh one per file.
 * - OASIS_MESH_KEY_<NAME> (secret, required) and OASIS_MESH_PUBLIC_KEYS: this process's
 *   mesh key and everyone's public keys (kit/mesh-keys.ts). There is no default: a process
 *   without its key refuses to start, unless OASIS_DEV=1.
 * - OASIS_DEV [unset]: dev mode (`1`): binds 127.0.0.1 only, a missing mesh key becomes a
 *   random one, gRPC reflection is open to anyone.
 * - OASIS_HOST [0.0.0.0; 127.0.0.1 in dev mode]: the address listeners bind.
 * - OASIS_<NAME>_METRICS_PORT [the service's port + 1000]: the admin port serving
 *   Prometheus /metrics (and /healthz, /readyz); the service port does not serve /metrics.
 * - OASIS_WORKER_ID [leased in Redis]: 10-bit snowflake worker id (kit/ids.ts, kit/worker-id.ts).
 * - OASIS_<NAME>_PORT, OASIS_<NAME>_URL per mesh entry: comma-separated replicas, each
 *   `http://host:port` or `dns:///host:port` (every address the name resolves to, e.g. a
 *   headless Kubernetes Service; kit/discovery.ts).
 * - OASIS_DNS_REFRESH_MS [5000]: how often `dns:///` upstreams are resolved again.
 * - OASIS_LOG_LEVEL [info], OASIS_DRAIN_TIMEOUT_MS [10000], OASIS_OUTBOX_RELAY [on],
 *   OASIS_OUTBOX_CHAINED [1]: the relay publishes a batch in one round trip (kit/outbox.ts;
 *   0: one publish and ack at a time, bench/social.ts's A/B), OASIS_OUTBOX_BATCHED [1]: in a
 *   service whose pool allows several statements per query, a relay pass takes two MariaDB
 *   round trips around the publish instead of five (kit/outbox.ts `batched`),
 *   OASIS_OUTBOX_KICK_DELAY_MS [0]: after a commit's kick the relay waits this long before
 *   its pass, so the commits of those milliseconds leave in one pass (kit/outbox.ts
 *   `kickDelayMs`; bench/social.ts OASIS_BENCH_COMPOSE_AB=relaydelay),
 *   OASIS_OUTBOX_IDLE_POLL_MAX_MS [4000]: each relay poll that finds nothing doubles the
 *   wait before the next (250 ms at first), up to this; a kick brings it back to 250
 *   (kit/outbox.ts `idlePollMaxMs`; 250 polls every 250 ms as before; an idle service's
 *   CPU 14-16 -> 9-10 ms/s, bench/idle.ts, design note 61),
 *   OASIS_MESH_HTTP [2]: HTTP version of mesh calls (kit/client.ts), OASIS_MESH_GZIP [0]: mesh
 *   calls accept gzip-compressed answers (a server compresses those over 1 KiB); off, an
 *   answer travels as it is (kit/client.ts MeshClientOptions.gzip, bench/social.ts
 *   OASIS_BENCH_COMPOSE_AB=gzip), OASIS_MESH_FAST_UNARY [1]: a service answers binary Connect
 *   unary calls without connect-node's adapter (kit/fast-unary.ts; 0: every call through it,
 *   bench/social.ts OASIS_BENCH_COMPOSE_AB=fastunary),
 *   (OASIS_MESH_RAW_UNARY, the services' unary calls over kit/h2-client.ts, was measured
 *   0.88x the DSB mix's req/s and removed: design note 58),
 *   OASIS_METRICS_EVENT_LOOP_MS [100, 1-10000]: ms between the event loop delay monitor's
 *   samples (`nodejs_eventloop_lag_*`; prom-client's default 10 costs ~5 ms CPU/s per
 *   process: bench/idle.ts, design note 58).
 * - OASIS_RETENTION_INTERVAL_MS [3600000, 0 = off]: how often a service prunes the kit's
 *   tables (kit/retention.ts), keeping published outbox rows OASIS_OUTBOX_RETENTION_SECONDS
 *   [86400], idempotency keys OASIS_REQUEST_LOG_RETENTION_SECONDS [604800] and consumer
 *   dedup records OASIS_PROCESSED_EVENTS_RETENTION_SECONDS [691200].
 * - OASIS_CONSUMER_ACK_WAIT_MS [30000, 1000-600000]: how long JetStream waits for a
 *   consumer's ack before it delivers the message again (kit/consumer.ts ackWaitMs), i.e.
 *   how soon a killed process's unacknowledged events come back. 30 s is JetStream's own
 *   default; the crash tests set a few seconds so that their redelivery waits are short.
 */
import { mesh, meshEntry } from "../mesh.config.ts";
import { boolEnv, enumEnv, intEnv, type Env } from "./env.ts";
import { defaultRetention, type RetentionPolicy } from "./retention.ts";
import { devModeFrom, meshIdentityFrom, type MeshIdentity } from "./mesh-keys.ts";

export type { Env };

export interface BaseConfig {
  /** Service name (mesh.config.ts), e.g. "identity". */
  readonly service: string;
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  readonly mysqlUrl: string;
  /** This service's own database, e.g. `oasis_identity`. */
  readonly database: string;
  readonly redisUrl: string;
  /** Prefix of every Redis key this service writes, e.g. `oasis:identity:`. */
  readonly redisKeyPrefix: string;
  readonly natsUrl: string;
  /** "" in production; a test namespace otherwise. Prepended to subjects and stream names. */
  readonly namespace: string;
  /** This process's mesh identity: signs the assertions it sends, verifies those it receives. */
  readonly mesh: MeshIdentity;
  /**
   * The same identity under its old name, so code written as `asService(rt.config.meshSecret)`
   * keeps compiling (asService/asUser no longer need it). Prefer `mesh`.
   * @deprecated
   */
  readonly meshSecret: MeshIdentity;
  /** Dev mode (OASIS_DEV=1): loopback only, reflection open, missing key replaced. */
  readonly dev: boolean;
  /** Admin port for /metrics (and probes); 0 picks a free one (tests). */
  readonly metricsPort: number;
  /** Snowflake worker id from OASIS_WORKER_ID; undefined: lease one in Redis (kit/worker-id.ts). */
  readonly workerId: number | undefined;
  readonly logLevel: string;
  /** How long shutdown waits for in-flight calls before closing anyway. */
  readonly drainTimeoutMs: number;
  /**
   * Whether this process runs the outbox relay (OASIS_OUTBOX_RELAY=off disables it, e.g.
   * while a stream is being migrated; events accumulate and leave when it is back on).
   */
  readonly outboxRelay: boolean;
  /** The outbox relay publishes a batch chained, in one round trip (OASIS_OUTBOX_CHAINED, kit/outbox.ts). */
  readonly outboxChained: boolean;
  /** mysql2 captures the caller's stack on every query (OASIS_MYSQL_STACKS, default off; kit/mysql.ts DatabaseOptions.stacks). */
  readonly mysqlStacks: boolean;
  /** The relay's pass in two round trips where the pool allows several statements (OASIS_OUTBOX_BATCHED, kit/outbox.ts). */
  readonly outboxBatched: boolean;
  /** Ms the relay waits after a kick before its pass (OASIS_OUTBOX_KICK_DELAY_MS, default 0; kit/outbox.ts kickDelayMs). */
  readonly outboxKickDelayMs: number;
  /** Longest wait between relay polls that find nothing, ms (OASIS_OUTBOX_IDLE_POLL_MAX_MS; kit/outbox.ts idlePollMaxMs). */
  readonly outboxIdlePollMaxMs: number;
  /** HTTP version of calls inside the mesh: "2" (h2c, default) or "1.1" (OASIS_MESH_HTTP). */
  readonly meshHttpVersion: "1.1" | "2";
  /** Mesh calls accept gzip-compressed answers (OASIS_MESH_GZIP, default off; kit/client.ts). */
  readonly meshGzip: boolean;
  /** Binary Connect unary calls skip connect-node's adapter (OASIS_MESH_FAST_UNARY, default on; kit/fast-unary.ts). */
  readonly meshFastUnary: boolean;
  /**
   * Ms between the event loop delay monitor's samples behind `nodejs_eventloop_lag_*`
   * (OASIS_METRICS_EVENT_LOOP_MS, default 100; prom-client's own default is 10, which cost
   * ~5 ms of CPU per second in every idle Bun process: design note 58).
   */
  readonly metricsEventLoopMs: number;
  /** Upstream base URLs by service name (one or more replicas each, or `dns:///` targets). */
  readonly upstreams: Readonly<Record<string, readonly string[]>>;
  /** How often `dns:///` upstreams are resolved again, ms. */
  readonly dnsRefreshMs: number;
  /** OTLP/HTTP endpoint for traces (OASIS_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT); "" for none. */
  readonly otlpEndpoint: string;
  /** Span export interval, ms (OASIS_OTLP_DELAY_MS, default 5000). */
  readonly otlpDelayMs: number;
  /** How often the kit's tables are pruned, ms; 0 turns pruning off. */
  readonly retentionIntervalMs: number;
  /** JetStream's redelivery wait for this process's consumers, ms (OASIS_CONSUMER_ACK_WAIT_MS, default 30 s). */
  readonly consumerAckWaitMs: number;
  /** What the pruning keeps (kit/retention.ts). */
  readonly retention: RetentionPolicy;
}

/** Offset of a service's default admin (metrics) port from its service port. */
export const metricsPortOffset = 1000;

function envKey(name: string, suffix: string): string {
  return `OASIS_${name.toUpperCase()}_${suffix}`;
}

/**
 * Upstream URLs for every deployed mesh entry, from OASIS_<NAME>_URL or the local
 * default port. OASIS_MESH_SERVICES (comma list) says which services are deployed (a
 * partial mesh in tests or during a rollout); by default all of mesh.config.ts.
 */
export function upstreamsFrom(env: Env): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const deployed = env.OASIS_MESH_SERVICES?.split(",").map((s) => s.trim()).filter(Boolean);
  for (const entry of mesh) {
    if (deployed && !deployed.includes(entry.name)) continue;
    const raw = env[envKey(entry.name, "URL")];
    const port = intEnv(env, envKey(entry.name, "PORT"), entry.port);
    out[entry.name] = raw ? raw.split(",").map((u) => u.trim()).filter(Boolean) : [`http://127.0.0.1:${port}`];
  }
  return out;
}

/** Shared settings that are not tied to one service (the edge and tools use these). */
export function sharedConfig(env: Env) {
  const namespace = env.OASIS_NAMESPACE ?? "";
  if (!/^[a-z0-9]{0,16}$/.test(namespace)) throw new Error("OASIS_NAMESPACE must be 0-16 chars of [a-z0-9]");
  return {
    mysqlUrl: env.OASIS_MYSQL_URL ?? "mysql://root@127.0.0.1:3306",
    redisUrl: env.OASIS_REDIS_URL ?? "redis://127.0.0.1:6379",
    natsUrl: env.OASIS_NATS_URL ?? "nats://127.0.0.1:4222",
    namespace,
    workerId: env.OASIS_WORKER_ID ? intEnv(env, "OASIS_WORKER_ID", 0) : undefined,
    logLevel: env.OASIS_LOG_LEVEL ?? "info",
    drainTimeoutMs: intEnv(env, "OASIS_DRAIN_TIMEOUT_MS", 10_000),
    outboxRelay: env.OASIS_OUTBOX_RELAY !== "off",
    outboxChained: boolEnv(env, "OASIS_OUTBOX_CHAINED", true),
    /**
     * OASIS_MYSQL_STACKS [0]: mysql2's promise API captures a stack trace on every query,
     * to show the caller in a failed query's error (kit/mysql.ts DatabaseOptions.stacks).
     * Off by default: it was 5.6% of graph's CPU under follows (design note 32).
     */
    mysqlStacks: boolEnv(env, "OASIS_MYSQL_STACKS", false),
    outboxBatched: boolEnv(env, "OASIS_OUTBOX_BATCHED", true),
    outboxKickDelayMs: intEnv(env, "OASIS_OUTBOX_KICK_DELAY_MS", 0),
    outboxIdlePollMaxMs: intEnv(env, "OASIS_OUTBOX_IDLE_POLL_MAX_MS", 4_000, { min: 1, max: 60_000 }),
    meshHttpVersion: enumEnv(env, "OASIS_MESH_HTTP", ["1.1", "2"], "2"),
    meshGzip: boolEnv(env, "OASIS_MESH_GZIP", false),
    meshFastUnary: boolEnv(env, "OASIS_MESH_FAST_UNARY", true),
    metricsEventLoopMs: intEnv(env, "OASIS_METRICS_EVENT_LOOP_MS", 100, { min: 1, max: 10_000 }),
    upstreams: upstreamsFrom(env),
    dnsRefreshMs: intEnv(env, "OASIS_DNS_REFRESH_MS", 5_000),
    /** OTLP/HTTP endpoint for traces (kit/tracing.ts); "" leaves tracing off. */
    otlpEndpoint: env.OASIS_OTLP_ENDPOINT ?? env.OTEL_EXPORTER_OTLP_ENDPOINT ?? "",
    /** How often spans are exported, ms. */
    otlpDelayMs: intEnv(env, "OASIS_OTLP_DELAY_MS", 5_000),
  };
}

/** Database name of a service in a namespace: `oasis_identity` or `oasis_t1a2_identity`. */
export function databaseName(service: string, namespace: string): string {
  return namespace ? `oasis_${namespace}_${service}` : `oasis_${service}`;
}

/**
 * Redis key prefix of a service in a namespace: `oasis:identity:` or `t1a2:oasis:identity:`
 * (a service's own connection carries it as `redisKeyPrefix`; shared-rules/ modules that
 * read another service's cache without a hop open a connection with that service's).
 */
export function redisKeyPrefixOf(service: string, namespace: string): string {
  return `${namespace ? `${namespace}:` : ""}oasis:${service}:`;
}

/**
 * The address listeners bind: OASIS_HOST, default 0.0.0.0; in dev mode always loopback
 * (a dev mode process has no real key and open reflection, so it must not be reachable).
 */
export function listenHost(env: Env): string {
  if (!devModeFrom(env)) return env.OASIS_HOST ?? "0.0.0.0";
  const asked = env.OASIS_HOST ?? "127.0.0.1";
  if (asked !== "127.0.0.1" && asked !== "localhost") throw new Error(`OASIS_DEV=1 binds 127.0.0.1 only; OASIS_HOST=${asked} is refused`);
  return "127.0.0.1";
}

/** The identity, dev flag and listen address of mesh process `name` (a service or "edge"). */
export function processSecurity(name: string, env: Env) {
  const mesh = meshIdentityFrom(env, name);
  return { mesh, meshSecret: mesh, dev: mesh.dev, host: listenHost(env) };
}

/** The configuration every service shares, for service `name`. */
export function baseConfig(name: string, env: Env = process.env): BaseConfig {
  const entry = meshEntry(name);
  const shared = sharedConfig(env);
  const ns = shared.namespace;
  const port = intEnv(env, envKey(name, "PORT"), entry.port);
  return Object.freeze({
    ...shared,
    ...processSecurity(name, env),
    service: name,
    port,
    metricsPort: intEnv(env, envKey(name, "METRICS_PORT"), port === 0 ? 0 : port + metricsPortOffset),
    database: databaseName(name, ns),
    redisKeyPrefix: redisKeyPrefixOf(name, ns),
    retentionIntervalMs: intEnv(env, "OASIS_RETENTION_INTERVAL_MS", 3_600_000),
    consumerAckWaitMs: intEnv(env, "OASIS_CONSUMER_ACK_WAIT_MS", 30_000, { min: 1_000, max: 600_000 }),
    retention: Object.freeze({
      outboxSentSeconds: intEnv(env, "OASIS_OUTBOX_RETENTION_SECONDS", defaultRetention.outboxSentSeconds),
      requestLogSeconds: intEnv(env, "OASIS_REQUEST_LOG_RETENTION_SECONDS", defaultRetention.requestLogSeconds),
      processedEventsSeconds: intEnv(env, "OASIS_PROCESSED_EVENTS_RETENTION_SECONDS", defaultRetention.processedEventsSeconds),
    }),
  });
}
