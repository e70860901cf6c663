/**
 * Group commit for request handlers: the writes that concurrent calls hand in while a
 * transaction is under way go together in the next one, one MariaDB transaction in one
 * round trip (kit/mysql.ts withBatchedTransaction): one BEGIN, one COMMIT (one redo log
 * fsync at innodb_flush_log_at_trx_commit = 1), one mysql2 query and one socket write
 * for all of them, and one outbox kick, so the relay publishes their events in one pass.
 * Each call still gets its own outcome (or its own error), decided by the caller's
 * `plan` from the batch's results.
 *
 * How a batch forms (TurnBatches below; the notification consumer's GroupCommit,
 * services/notification events.ts, forms its batches of events with it too): calls added in one event-loop turn go together
 * (the flush waits for `setImmediate`); while `inFlight` transactions are running, new
 * calls wait and go in the next batch, up to `max` a batch (a full batch starts at
 * once). Under light load a call thus waits one turn and goes alone; under load the
 * batches grow with the commit time. A batch of one runs `alone` (the caller's
 * single-call path, unchanged).
 *
 * Failure: if the batch's transaction fails (after withBatchedTransaction's deadlock
 * retries), every call of it runs `alone`, each in its own transaction, so one call's
 * error (a duplicate key, a constraint) fails that call only. Items must therefore be
 * idempotent when run again (INSERT IGNORE and the like): a connection lost after COMMIT
 * was sent may leave a failed batch stored. An outcome `plan` maps to an Error rejects
 * that call only; the batch is committed all the same (use it for per-call refusals
 * that wrote nothing, e.g. a blocked follow). Results that `outcomes` cannot read
 * (it throws) fail every call of the committed batch with that error.
 *
 * Statements of the calls are built by the callers in their own call context (the
 * outbox's rows carry the call's request id and trace), so items carry Statements,
 * not closures to run later.
 */
import type { Pool } from "mysql2/promise";
import { Counter, type Registry } from "prom-client";
import { withBatchedTransaction, type Statement } from "./mysql.ts";

/** One batch's SQL, from its calls' items (in the order they were added). */
export interface TxBatchPlan<O> {
  /** The batch's statements, without START TRANSACTION and COMMIT (added here). */
  readonly statements: readonly Statement[];
  /** Each item's outcome, in item order, from the statements' results (in statement order); an Error rejects that item's call. */
  outcomes(results: readonly unknown[]): ReadonlyArray<O | Error>;
}

export interface TxBatcherOptions<I, O> {
  /** The service's pool; it must allow multiple statements (DatabaseOptions.multipleStatements). */
  readonly pool: Pool;
  /** Most items per transaction; <= 1: every item alone (group commit off). */
  readonly max: number;
  /** Transactions of batches running at once (default 2): the next batch gathers while they run. */
  readonly inFlight?: number;
  /** The SQL of a batch of two or more items, and how to read each item's outcome. */
  plan(items: readonly I[]): TxBatchPlan<O>;
  /** One item in its own transaction: a batch of one, and each item of a failed batch. */
  alone(item: I): Promise<O>;
  /** Called after every committed batch (e.g. the outbox's kick). */
  committed?(): void;
  /**
   * Work for the whole batch after its commit and before its calls are answered (e.g. one
   * Redis pipeline for all of them instead of one per call), given the items and their
   * outcomes; if it rejects, every call of the batch fails with its error (the writes are
   * committed, as when a lone call's own after-commit work fails). Batches only: a call
   * that runs alone does its own.
   */
  after?(items: readonly I[], outcomes: ReadonlyArray<O | Error>): Promise<void>;
  /**
   * Registry for `tx_batcher_items_total{batcher, path}` (path: batched, alone) and
   * `tx_batcher_batches_total{batcher, outcome}` (committed, failed), read from `stats`
   * when scraped (nothing counted per call); omitted: none.
   */
  readonly metrics?: { readonly registry: Registry; readonly name: string };
}

/** What a batcher did since it was made (tests, the bench's reading of batch sizes). */
export interface TxBatcherStats {
  /** Batches of two or more items committed. */
  batches: number;
  /** Items in those batches. */
  batchedItems: number;
  /** Items that ran alone: batches of one, and the items of failed batches. */
  alone: number;
  /** Batches whose transaction failed (their items then ran alone). */
  failedBatches: number;
}

interface Pending<I, O> {
  readonly item: I;
  resolve(out: O): void;
  reject(err: unknown): void;
}

/**
 * How a group commit's batches form, shared by TxBatcher and notification's GroupCommit
 * (services/notification/events.ts): items pushed in one event-loop turn go together (the
 * flush waits for `setImmediate`); while `inFlight` batches are running, new items wait
 * for the next batch, up to `max` a batch (a full batch starts at once). `run` gets each
 * batch and must settle every item of it (it is not told of its own rejections).
 */
export class TurnBatches<P> {
  private pending: P[] = [];
  private running = 0;
  private scheduled = false;

  constructor(
    private readonly max: number,
    private readonly inFlight: number,
    private readonly run: (batch: P[]) => Promise<void>,
  ) {}

  /** Queues `item` for the next batch. */
  push(item: P): void {
    this.pending.push(item);
    if (this.pending.length >= this.max) void this.flush();
    else if (this.running < this.inFlight) this.flushSoon();
  }

  /** Flushes after the current turn, so the items of this turn go in one batch. */
  private flushSoon(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const batch = this.pending.splice(0, this.max);
    this.running++;
    try {
      await this.run(batch);
    } finally {
      this.running--;
      if (this.pending.length > 0) this.flushSoon();
    }
  }
}

/** Group commit of calls' writes (see the top of this file). */
export class TxBatcher<I, O> {
  readonly stats: TxBatcherStats = { batches: 0, batchedItems: 0, alone: 0, failedBatches: 0 };
  private readonly batches: TurnBatches<Pending<I, O>>;

  constructor(private readonly opts: TxBatcherOptions<I, O>) {
    this.batches = new TurnBatches(opts.max, Math.max(1, opts.inFlight ?? 2), (batch) => this.commit(batch));
    if (opts.metrics) sourcesOf(opts.metrics.registry).set(opts.metrics.name, this.stats);
  }

  /** Writes `item` with the calls around it; resolves with its outcome after its batch commits. */
  add(item: I): Promise<O> {
    if (this.opts.max <= 1) {
      this.stats.alone++;
      return this.opts.alone(item);
    }
    return new Promise<O>((resolve, reject) => this.batches.push({ item, resolve, reject }));
  }

  private async commit(batch: Array<Pending<I, O>>): Promise<void> {
    if (batch.length === 1) return this.runAlone(batch[0]!);
    let plan: TxBatchPlan<O>;
    let results: unknown[];
    try {
      plan = this.opts.plan(batch.map((p) => p.item));
      results = await withBatchedTransaction(this.opts.pool, (tx) => tx.run(plan.statements, { commit: true }));
    } catch {
      // The plan or the transaction failed: each call runs alone and gets its own answer
      // (a failure at COMMIT's answer may leave the batch stored: items are idempotent).
      this.stats.failedBatches++;
      await Promise.all(batch.map((p) => this.runAlone(p)));
      return;
    }
    this.stats.batches++;
    this.stats.batchedItems += batch.length;
    this.opts.committed?.();
    let outcomes: ReadonlyArray<O | Error>;
    try {
      outcomes = plan.outcomes(results);
      if (outcomes.length !== batch.length) throw new Error(`TxBatcher plan returned ${outcomes.length} outcomes for ${batch.length} items`);
    } catch (err) {
      // Committed, but unreadable: not redone; every call of the batch fails.
      for (const p of batch) p.reject(err);
      return;
    }
    if (this.opts.after) {
      try {
        await this.opts.after(
          batch.map((p) => p.item),
          outcomes,
        );
      } catch (err) {
        for (const p of batch) p.reject(err);
        return;
      }
    }
    batch.forEach((p, i) => {
      const out = outcomes[i]!;
      if (out instanceof Error) p.reject(out);
      else p.resolve(out);
    });
  }

  private async runAlone(p: Pending<I, O>): Promise<void> {
    this.stats.alone++;
    try {
      p.resolve(await this.opts.alone(p.item));
    } catch (err) {
      p.reject(err);
    }
  }
}

/** Each registry's batchers' stats by name, read by its two counters at scrape time. */
const registries = new WeakMap<Registry, Map<string, TxBatcherStats>>();

function sourcesOf(registry: Registry): Map<string, TxBatcherStats> {
  let sources = registries.get(registry);
  if (sources) return sources;
  const all = (sources = new Map<string, TxBatcherStats>());
  registries.set(registry, all);
  new Counter({
    name: "tx_batcher_items_total",
    help: "Calls' writes through a group-commit batcher (kit/tx-batcher.ts): in batches of two or more (batched), or alone.",
    labelNames: ["batcher", "path"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [batcher, st] of all) {
        this.inc({ batcher, path: "batched" }, st.batchedItems);
        this.inc({ batcher, path: "alone" }, st.alone);
      }
    },
  });
  new Counter({
    name: "tx_batcher_batches_total",
    help: "Group-commit batches (kit/tx-batcher.ts) of two or more calls: committed, or failed and redone call by call.",
    labelNames: ["batcher", "outcome"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [batcher, st] of all) {
        this.inc({ batcher, outcome: "committed" }, st.batches);
        this.inc({ batcher, outcome: "failed" }, st.failedBatches);
      }
    },
  });
  return all;
}
