/**
 * What every service process has: config, logger, id generator, its MySQL pool
 * (migrated), Redis, the NATS bus with its outbox relay, mesh clients, an RPC server,
 * event consumers and periodic jobs, started and stopped in the right order.
 *
 * A service's app.ts opens a runtime, builds its own context from it, and serves:
 *
 *     const rt = await openRuntime(config, { migrationsDir, redis: true, bus: true });
 *     const ctx = createContext(rt, config);
 *     return serve(rt, { bindings: [...], consumers: [...] });
 *
 * Stop order: health NOT_SERVING and drain the server, stop consumers and jobs, flush
 * and stop the outbox relay, then close bus, Redis and MySQL.
 */
import type { DescService } from "@bufbuild/protobuf";
import type { Client } from "@connectrpc/connect";
import type { Pool } from "mysql2/promise";
import type { BaseConfig } from "./config.ts";
import { createMeshClient, type MeshClientOptions } from "./client.ts";
import { connectBus, domainStreamConfig, ensureStream, type Bus } from "./bus.ts";
import { startConsumer, type ConsumerOptions, type RunningConsumer } from "./consumer.ts";
import { createIdGenerator, type IdGenerator } from "./ids.ts";
import { leaseWorkerId } from "./worker-id.ts";
import { createLogger, type Logger } from "./logger.ts";
import { openDatabase, withBatchedTransaction, withTransaction, type BatchedTx, type Tx } from "./mysql.ts";
import { createOutbox, type Outbox } from "./outbox.ts";
import { createRedis, type Redis } from "./redis.ts";
import { AdminService } from "#gen/oasis/admin/v1/admin_service_pb.ts";
import { adminService, consumerStatus } from "./admin-service.ts";
import { bind, createRpcServer, type HttpFallback, type RpcServer, type RpcServerOptions, type ServiceBinding } from "./server.ts";
import { consumerCounters, consumerGauges, createRegistry, type ConsumerGaugeSource } from "./metrics.ts";
import { Counter, type Registry } from "prom-client";
import { pruneKitTables } from "./retention.ts";
import { openKillSwitches, type KillSwitches } from "./kill-switches.ts";
import { initTracing } from "./tracing.ts";

export interface RuntimeOptions {
  /** The service's SQL migrations folder; omit for services without MySQL. */
  readonly migrationsDir?: string;
  readonly mysql?: boolean;
  /** The pool allows several statements per query, for `batchTx` (kit/mysql.ts). */
  readonly multipleStatements?: boolean;
  readonly redis?: boolean;
  readonly bus?: boolean;
  /** Client options override (timeouts, HTTP version). */
  readonly clients?: Partial<MeshClientOptions>;
}

export interface Runtime<C extends BaseConfig = BaseConfig> {
  readonly config: C;
  readonly log: Logger;
  /** The process's Prometheus registry (served at /metrics). */
  readonly metrics: Registry;
  readonly ids: IdGenerator;
  /** Throws if the service did not ask for MySQL. */
  readonly db: Pool;
  readonly redis: Redis;
  readonly bus: Bus;
  readonly outbox: Outbox;
  /**
   * The kill switches as this process applies them (kit/kill-switches.ts), watched
   * from NATS. Throws if the service did not ask for the bus.
   */
  readonly killSwitches: KillSwitches;
  /** Runs `fn` in a MySQL transaction; wakes the outbox relay after commit. */
  tx<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;
  /**
   * Runs `fn` as a transaction of statement batches, one round trip each
   * (kit/mysql.ts withBatchedTransaction; needs RuntimeOptions.multipleStatements);
   * wakes the outbox relay after commit.
   */
  batchTx<T>(fn: (tx: BatchedTx) => Promise<T>): Promise<T>;
  /** A client for another service of the mesh, over all its configured replicas. */
  client<S extends DescService>(service: S, upstream: string): Client<S>;
  /** Registers cleanup to run at stop, after the server drained (LIFO). */
  onStop(fn: () => Promise<void> | void): void;
  /** Runs `fn` every `intervalMs` (not overlapping itself) until stop. */
  every(name: string, intervalMs: number, fn: () => Promise<void>): void;
  /** True when the database answers (for /readyz); true when there is no database. */
  databaseReady(): Promise<boolean>;
  /** Runs the stop hooks and closes connections. serve() calls it after draining. */
  close(): Promise<void>;
}

function missing(what: string): never {
  throw new Error(`this service did not open ${what} in openRuntime()`);
}

export async function openRuntime<C extends BaseConfig>(config: C, opts: RuntimeOptions = {}): Promise<Runtime<C>> {
  const log = createLogger(config.service, config.logLevel);
  const stopTracing = initTracing(config.service, config);
  const metrics = createRegistry(config.service, config.metricsEventLoopMs);
  const stops: Array<() => Promise<void> | void> = [];
  let workerId = config.workerId;
  if (workerId === undefined) {
    const lease = await leaseWorkerId(config.redisUrl, log);
    workerId = lease.workerId;
    stops.push(() => lease.release());
  }
  const ids = createIdGenerator(workerId);
  const useMysql = opts.mysql ?? opts.migrationsDir !== undefined;
  const db = useMysql
    ? await openDatabase({ url: config.mysqlUrl, database: config.database, migrationsDir: opts.migrationsDir, multipleStatements: opts.multipleStatements, stacks: config.mysqlStacks, log })
    : undefined;
  const redis = opts.redis ? createRedis({ url: config.redisUrl, keyPrefix: config.redisKeyPrefix, log }) : undefined;
  const bus = opts.bus ? await connectBus({ url: config.natsUrl, namespace: config.namespace, name: config.service, log }) : undefined;
  const killSwitches = bus ? await openKillSwitches(bus, log) : undefined;
  let outbox: Outbox | undefined;
  if (bus && db) {
    await ensureStream(bus.jsm, domainStreamConfig(config.namespace, config.service), log);
    outbox = createOutbox({ pool: db, js: bus.js, ids, namespace: config.namespace, log, registry: metrics, chained: config.outboxChained, batched: config.outboxBatched && !!opts.multipleStatements, kickDelayMs: config.outboxKickDelayMs, idlePollMaxMs: config.outboxIdlePollMaxMs });
    if (config.outboxRelay) outbox.start();
  }
  const clientOpts: MeshClientOptions = { meshSecret: config.mesh, httpVersion: config.meshHttpVersion, gzip: config.meshGzip, dnsRefreshMs: config.dnsRefreshMs, ...opts.clients };
  const clients = new Map<string, Client<any>>();
  const timers: Array<ReturnType<typeof setInterval>> = [];

  // Close in reverse order of opening.
  stops.push(stopTracing);
  stops.push(async () => {
    await db?.end();
  });
  stops.push(() => {
    redis?.disconnect();
  });
  stops.push(async () => {
    await bus?.close();
  });
  stops.push(async () => {
    await killSwitches?.close();
  });
  stops.push(async () => {
    await outbox?.stop();
  });
  stops.push(() => {
    for (const t of timers) clearInterval(t);
  });

  const rt: Runtime<C> = {
    config,
    log,
    metrics,
    ids,
    get db() {
      return db ?? missing("MySQL");
    },
    get redis() {
      return redis ?? missing("Redis");
    },
    get bus() {
      return bus ?? missing("the bus");
    },
    get outbox() {
      return outbox ?? missing("the bus and MySQL (outbox)");
    },
    get killSwitches() {
      return killSwitches ?? missing("the bus (kill switches)");
    },
    async tx(fn) {
      const out = await withTransaction(db ?? missing("MySQL"), fn);
      outbox?.kick();
      return out;
    },
    async batchTx(fn) {
      if (!opts.multipleStatements) throw new Error("batchTx needs RuntimeOptions.multipleStatements");
      const out = await withBatchedTransaction(db ?? missing("MySQL"), fn);
      outbox?.kick();
      return out;
    },
    client(service, upstream) {
      const key = `${upstream}/${service.typeName}`;
      let c = clients.get(key);
      if (!c) {
        const urls = config.upstreams[upstream];
        if (!urls?.length) throw new Error(`no upstream URL for ${upstream}`);
        c = createMeshClient(service, urls, { ...clientOpts, audience: upstream });
        clients.set(key, c);
      }
      return c;
    },
    onStop(fn) {
      stops.push(fn);
    },
    every(name, intervalMs, fn) {
      let busy = false;
      timers.push(
        setInterval(() => {
          if (busy) return;
          busy = true;
          fn()
            .catch((err) => log.warn({ err, job: name }, "periodic job failed"))
            .finally(() => (busy = false));
        }, intervalMs),
      );
    },
    async databaseReady() {
      if (!db) return true;
      try {
        await db.query("SELECT 1");
        return true;
      } catch {
        return false;
      }
    },
    async close() {
      for (const fn of stops.splice(0).reverse()) {
        try {
          await fn();
        } catch (err) {
          log.warn({ err }, "error while stopping");
        }
      }
    },
  };
  if (db && config.retentionIntervalMs > 0) {
    const deleted = new Counter({
      name: "kit_retention_deleted_rows_total",
      help: "Rows the retention job deleted from the kit's tables (kit/retention.ts), by table.",
      labelNames: ["table"],
      registers: [metrics],
    });
    rt.every("retention", config.retentionIntervalMs, async () => {
      const report = await pruneKitTables(db, config.retention);
      for (const [table, n] of Object.entries(report)) deleted.inc({ table }, n);
      if (report.outbox || report.request_log || report.processed_events) log.info(report, "retention pruned the kit's tables");
    });
  }
  return rt;
}

export interface ServeOptions {
  readonly bindings: readonly ServiceBinding[];
  readonly consumers?: readonly Omit<ConsumerOptions, "bus" | "log">[];
  readonly httpFallback?: HttpFallback;
  /** The service's role check for ACCESS_ADMIN/ACCESS_MODERATOR methods (kit/server.ts). */
  readonly authorize?: RpcServerOptions["authorize"];
  /** Extra readiness check for /readyz. */
  readonly ready?: () => Promise<boolean>;
  readonly readMaxBytes?: number;
}

/** A running service process. */
export interface App {
  readonly runtime: Runtime;
  readonly server: RpcServer;
  /** Binds and starts consumers; resolves to the bound port. */
  start(): Promise<number>;
  stop(): Promise<void>;
}

function hasBus(rt: Runtime): boolean {
  try {
    return rt.bus !== undefined;
  } catch {
    return false;
  }
}

export function serve<C extends BaseConfig>(rt: Runtime<C>, opts: ServeOptions): App {
  const running: RunningConsumer[] = [];
  const counters = opts.consumers?.length ? consumerCounters(rt.metrics) : undefined;
  if (opts.consumers?.length) {
    consumerGauges(rt.metrics, async () => {
      const out = new Map<string, ConsumerGaugeSource>();
      await Promise.all(
        running.map(async (c) => {
          const s = await consumerStatus(rt.bus, c).catch(() => undefined);
          if (s) out.set(c.name, { pending: Number(s.pending), ackPending: Number(s.ackPending), lagSeconds: s.lagSeconds, deadLetters: Number(s.deadLetters) });
        }),
      );
      return out;
    });
  }
  // Every process with the bus serves AdminService (kill switches, dead letters, its
  // consumers' lag) to the operator.
  const admin = hasBus(rt)
    ? [
        bind(
          AdminService,
          adminService({
            bus: rt.bus,
            killSwitches: rt.killSwitches,
            consumers: () => running,
            eventTypes: (opts.consumers ?? []).flatMap((c) => c.handlers.map((h) => h.schema)),
            log: rt.log,
          }),
        ),
      ]
    : [];
  const server = createRpcServer({
    name: rt.config.service,
    host: rt.config.host,
    port: rt.config.port,
    log: rt.log,
    mesh: rt.config.mesh,
    metricsPort: rt.config.metricsPort,
    bindings: [...opts.bindings, ...admin],
    httpFallback: opts.httpFallback,
    authorize: opts.authorize,
    readMaxBytes: opts.readMaxBytes,
    registry: rt.metrics,
    killSwitches: hasBus(rt) ? () => rt.killSwitches.state() : undefined,
    drainTimeoutMs: rt.config.drainTimeoutMs,
    fastUnary: rt.config.meshFastUnary,
    ready: async () => (await rt.databaseReady()) && (opts.ready ? opts.ready() : true),
  });
  let stopped: Promise<void> | undefined;
  return {
    runtime: rt,
    server,
    async start() {
      for (const c of opts.consumers ?? []) running.push(await startConsumer({ counters, ackWaitMs: rt.config.consumerAckWaitMs, ...c, bus: rt.bus, log: rt.log }));
      return server.start();
    },
    stop() {
      stopped ??= (async () => {
        await server.stop();
        await Promise.all(running.map((c) => c.stop()));
        await rt.close();
      })();
      return stopped;
    },
  };
}
