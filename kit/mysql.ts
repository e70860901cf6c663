/**
 * MariaDB/MySQL access for one service: a mysql2 pool on the service's own database
 * (`oasis_<service>`), created if missing, with the kit's tables and the service's SQL
 * migrations applied at start by Kysely's Migrator (which holds a lock table, so
 * replicas starting together migrate once).
 *
 * Conventions: BIGINT columns come back as strings (`bigNumberStrings`), because ids
 * are 64-bit and a JS number loses precision above 2^53; stores convert with BigInt().
 * Times are UTC (`timezone: "Z"`). Text is utf8mb4 so CJK and emoji round-trip.
 *
 * Traces (kit/tracing.ts, only while tracing is on): a CLIENT span per `select`/`write`
 * query, per `withTransaction` transaction and per `withBatchedTransaction` batch, with
 * `db.system` "mysql", `db.operation` (the statement's verb, TRANSACTION or BATCH) and
 * `db.statement_count`; never the SQL parameters. A transaction's span is not made the
 * active one, so spans started inside it (the outbox's producer span) keep their
 * parent: the request's span.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createPool as createCallbackPool } from "mysql2";
import mysql, { type Pool, type PoolConnection } from "mysql2/promise";
import { Kysely, MysqlDialect, sql } from "kysely";
import { Migrator, type Migration, type MigrationProvider } from "kysely/migration";
import type { Logger } from "./logger.ts";
import { endSpan, SpanKind, startSpan, tracingOn, type Span } from "./tracing.ts";

export type { Pool, PoolConnection };
/** A connection inside a transaction. */
export type Tx = PoolConnection;
/** Anything that runs a query: the pool (autocommit) or a transaction's connection. */
export type Queryable = Pool | PoolConnection;

/** The verb of a statement (SELECT, INSERT, ...) for its span; never its parameters. */
export function sqlVerb(sqlText: string): string {
  return /^\s*([A-Za-z]+)/.exec(sqlText)?.[1]?.toUpperCase() ?? "QUERY";
}

/** A span for `statements` statements of `operation`, or undefined while tracing is off. */
function sqlSpan(operation: string, statements: number): Span | undefined {
  if (!tracingOn()) return undefined;
  return startSpan(`mysql ${operation}`, SpanKind.CLIENT, undefined, { "db.system": "mysql", "db.operation": operation, "db.statement_count": statements });
}

/** Runs one query inside a span (when tracing is on). */
async function spanned<T>(sqlText: string, run: () => Promise<T>): Promise<T> {
  const span = sqlSpan(sqlVerb(sqlText), 1);
  if (!span) return run();
  try {
    const out = await run();
    endSpan(span);
    return out;
  } catch (err) {
    endSpan(span, err);
    throw err;
  }
}

/** Runs a SELECT and returns its rows typed as `T`. */
export async function select<T>(db: Queryable, sqlText: string, params: unknown[] = []): Promise<T[]> {
  const [rows] = await spanned(sqlText, () => db.query(sqlText, params));
  return rows as T[];
}

/** Runs a write and returns the number of affected rows. */
export async function write(db: Queryable, sqlText: string, params: unknown[] = []): Promise<number> {
  const [res] = await spanned(sqlText, () => db.query(sqlText, params));
  return (res as { affectedRows: number }).affectedRows;
}

/** `conn`, counting the queries made through it into `counter.n` (for a transaction's span). */
function counting(conn: PoolConnection, counter: { n: number }): PoolConnection {
  return new Proxy(conn, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target);
      if (prop === "query" || prop === "execute") {
        return (...args: unknown[]) => {
          counter.n++;
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return typeof v === "function" ? v.bind(target) : v;
    },
  });
}

const kitMigrationsDir = join(import.meta.dir, "migrations");

export interface DatabaseOptions {
  readonly url: string;
  readonly database: string;
  /** Folder of `NNNN_name.sql` files, applied in name order after the kit's own. */
  readonly migrationsDir?: string;
  /** Pool size. Default 10: enough for a 2-core pod; MariaDB's default max is 151. */
  readonly connectionLimit?: number;
  /**
   * Lets one query carry several statements (needed by `withBatchedTransaction`).
   * Parameters are still bound client-side with `?` placeholders; never concatenate
   * input into SQL text (with this on, an injection could run a whole statement).
   */
  readonly multipleStatements?: boolean;
  /**
   * mysql2's `trace`: capture the caller's stack on every query, so a failed query's
   * error shows where it was sent from. Costs a stack capture per query (5.6% of graph's
   * CPU under follows); default false: errors keep code, errno and sqlMessage.
   */
  readonly stacks?: boolean;
  readonly log: Logger;
}

/** Splits a migration file into statements: each ends with `;` at the end of a line. */
export function splitStatements(text: string): string[] {
  return text
    .split(/;\s*$/m)
    .map((s) => s.replace(/^\s*--.*$/gm, "").trim())
    .filter((s) => s.length > 0);
}

function sqlFileMigrations(dir: string, prefix: string): Record<string, Migration> {
  const out: Record<string, Migration> = {};
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith(".sql")).sort();
  } catch {
    return out;
  }
  for (const f of files) {
    const statements = splitStatements(readFileSync(join(dir, f), "utf8"));
    out[`${prefix}${f.replace(/\.sql$/, "")}`] = {
      async up(db) {
        for (const s of statements) await sql.raw(s).execute(db);
      },
    };
  }
  return out;
}

/** Creates the database if missing; returns nothing. Names are validated, not escaped. */
export async function ensureDatabase(url: string, database: string): Promise<void> {
  if (!/^[a-z0-9_]{1,64}$/.test(database)) throw new Error(`bad database name ${database}`);
  const conn = await mysql.createConnection({ uri: url });
  try {
    await conn.query(`CREATE DATABASE IF NOT EXISTS \`${database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci`);
  } finally {
    await conn.end();
  }
}

/** Drops a database (tests). */
export async function dropDatabase(url: string, database: string): Promise<void> {
  if (!/^[a-z0-9_]{1,64}$/.test(database)) throw new Error(`bad database name ${database}`);
  const conn = await mysql.createConnection({ uri: url });
  try {
    await conn.query(`DROP DATABASE IF EXISTS \`${database}\``);
  } finally {
    await conn.end();
  }
}

function poolOptions(opts: { url: string; database: string; connectionLimit?: number; multipleStatements?: boolean; stacks?: boolean }) {
  return {
    trace: opts.stacks ?? false,
    multipleStatements: opts.multipleStatements ?? false,
    uri: opts.url,
    database: opts.database,
    connectionLimit: opts.connectionLimit ?? 10,
    supportBigNumbers: true,
    bigNumberStrings: true,
    timezone: "Z",
    charset: "utf8mb4_unicode_520_ci",
    enableKeepAlive: true,
  } as const;
}

/** Applies the kit's migrations, then the service's. Idempotent. */
export async function migrate(opts: DatabaseOptions): Promise<string[]> {
  const db = new Kysely<unknown>({ dialect: new MysqlDialect({ pool: createCallbackPool({ ...poolOptions(opts), connectionLimit: 1 }) }) });
  const provider: MigrationProvider = {
    async getMigrations() {
      return {
        ...sqlFileMigrations(kitMigrationsDir, "0000_kit_"),
        ...(opts.migrationsDir ? sqlFileMigrations(opts.migrationsDir, "") : {}),
      };
    },
  };
  try {
    // Unordered: a kit migration added later sorts before a service's applied ones.
    const migrator = new Migrator({ db, provider, allowUnorderedMigrations: true });
    const { error, results } = await migrator.migrateToLatest();
    if (error) throw error;
    const applied = (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
    if (applied.length) opts.log.info({ applied, database: opts.database }, "migrated");
    return applied;
  } finally {
    await db.destroy();
  }
}

/** A pool on an existing database, without migrating (tools, tests, recounts). */
export function connectPool(url: string, database: string, connectionLimit = 4): Pool {
  return mysql.createPool(poolOptions({ url, database, connectionLimit }));
}

/** Creates the database if needed, migrates it, and returns a pool on it. */
export async function openDatabase(opts: DatabaseOptions): Promise<Pool> {
  await ensureDatabase(opts.url, opts.database);
  await migrate(opts);
  return mysql.createPool(poolOptions(opts));
}

const retryableErrnos = new Set([1213 /* ER_LOCK_DEADLOCK */, 1205 /* ER_LOCK_WAIT_TIMEOUT */]);

/** Connections already switched to READ COMMITTED (a session setting: once per connection). */
const readCommittedConnections = new WeakSet<object>();

export interface TransactionOptions {
  /**
   * Run at READ COMMITTED instead of InnoDB's REPEATABLE READ: no gap locks, for writers
   * that lock the rows they change explicitly (`FOR UPDATE`) and want no others. Set
   * once per pooled connection, so it costs one round trip per connection, not per call.
   */
  readonly readCommitted?: boolean;
}

/**
 * Runs `fn` in a transaction and commits; rolls back on any error. Deadlocks and lock
 * wait timeouts are retried up to 3 times (InnoDB picks a victim; retrying is the
 * documented remedy), so `fn` must only touch the database.
 */
export async function withTransaction<T>(pool: Pool, fn: (tx: Tx) => Promise<T>, opts: TransactionOptions = {}): Promise<T> {
  const span = sqlSpan("TRANSACTION", 0);
  if (!span) return transaction(pool, fn, opts);
  const counter = { n: 0 };
  try {
    const out = await transaction(pool, (tx) => fn(counting(tx, counter)), opts);
    span.setAttribute("db.statement_count", counter.n);
    endSpan(span);
    return out;
  } catch (err) {
    span.setAttribute("db.statement_count", counter.n);
    endSpan(span, err);
    throw err;
  }
}

async function transaction<T>(pool: Pool, fn: (tx: Tx) => Promise<T>, opts: TransactionOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const conn = await pool.getConnection();
    try {
      if (opts.readCommitted && !readCommittedConnections.has(conn.connection)) {
        await conn.query("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED");
        readCommittedConnections.add(conn.connection);
      }
      await conn.beginTransaction();
      const out = await fn(conn);
      await conn.commit();
      return out;
    } catch (err) {
      await conn.rollback().catch(() => {});
      const errno = (err as { errno?: number }).errno;
      if (errno !== undefined && retryableErrnos.has(errno) && attempt < 3) continue;
      throw err;
    } finally {
      conn.release();
    }
  }
}

/** One statement of a batch: SQL text with `?` placeholders and its parameters. */
export interface Statement {
  readonly sql: string;
  readonly params?: readonly unknown[];
}

/** A transaction whose statements go to the server in batches, one round trip each. */
export interface BatchedTx {
  /**
   * Sends `statements` in one round trip (the first batch also starts the transaction;
   * `commit` appends COMMIT) and returns each statement's result in order (rows for a
   * SELECT, a header with affectedRows for a write).
   */
  run(statements: readonly Statement[], opts?: { commit?: boolean }): Promise<unknown[]>;
}

/**
 * A transaction in as few round trips as its logic allows: `fn` sends batches of
 * statements (`BatchedTx.run`), typically one that reads what the decision needs (with
 * the locks) and one that writes and commits, where `withTransaction` pays a round trip
 * for BEGIN, each statement and COMMIT. A statement can depend on an earlier one of its
 * batch through session variables (e.g. `SET @n := ROW_COUNT()` after an INSERT IGNORE
 * and `... WHERE @n = 1` after it). If `fn` returns without committing, or throws, the
 * transaction is rolled back; deadlocks and lock wait timeouts are retried up to 3 times
 * like `withTransaction`, so `fn` must only touch the database. The pool must allow multiple statements
 * (DatabaseOptions.multipleStatements).
 */
export async function withBatchedTransaction<T>(pool: Pool, fn: (tx: BatchedTx) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const conn = await pool.getConnection();
    let started = false;
    let committed = false;
    try {
      const tx: BatchedTx = {
        async run(statements, opts = {}) {
          if (committed) throw new Error("batched transaction already committed");
          const lead = started ? 0 : 1;
          const all = [...(started ? [] : [{ sql: "START TRANSACTION" }]), ...statements, ...(opts.commit ? [{ sql: "COMMIT" }] : [])];
          started = true;
          const text = all.map((s) => s.sql).join(";\n");
          const span = sqlSpan("BATCH", all.length);
          let results: unknown;
          try {
            [results] = await conn.query(text, all.flatMap((s) => s.params ?? []));
            if (span) endSpan(span);
          } catch (err) {
            if (span) endSpan(span, err);
            throw err;
          }
          if (opts.commit) committed = true;
          // One statement answers with its result, several with an array of them.
          const list = all.length === 1 ? [results] : (results as unknown[]);
          return list.slice(lead, lead + statements.length);
        },
      };
      const out = await fn(tx);
      if (started && !committed) await conn.query("ROLLBACK");
      return out;
    } catch (err) {
      if (started && !committed) await conn.query("ROLLBACK").catch(() => {});
      const errno = (err as { errno?: number }).errno;
      if (errno !== undefined && retryableErrnos.has(errno) && attempt < 3) continue;
      throw err;
    } finally {
      conn.release();
    }
  }
}

/** True for a duplicate-key error (ER_DUP_ENTRY), optionally on a given key name. */
export function isDuplicateKey(err: unknown, keyName?: string): boolean {
  const e = err as { errno?: number; sqlMessage?: string };
  if (e.errno !== 1062) return false;
  return keyName === undefined || (e.sqlMessage ?? "").includes(`'${keyName}'`) || (e.sqlMessage ?? "").includes(`.${keyName}'`);
}
