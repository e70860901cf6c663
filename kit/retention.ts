/**
 * Retention of the kit's own bookkeeping tables, so they stop growing with traffic:
 * - `outbox` rows already published (`sent_at` set): the event lives on in its JetStream
 *   stream (7 days, kit/bus.ts); the row is only kept to look at for a while. Unsent
 *   rows are never touched, however old.
 * - `request_log` (idempotency keys, kit/idempotency.ts): a retry after the window is a
 *   new create. Payment APIs keep keys 24 h (Stripe, Checkout.com); Oasis keeps them
 *   7 days so a client that comes back after a weekend offline still replays.
 * - `processed_events` (consumer dedup, kit/consumer.ts): must outlive the streams'
 *   7-day max_age, or an old event still in a stream could be applied twice after its
 *   record was dropped; 8 days.
 *
 * Rows go in batches of `batchRows` (`DELETE ... LIMIT`) so no statement holds locks for
 * long; every table has an index on the time column used.
 */
import type { Pool } from "mysql2/promise";

export interface RetentionPolicy {
  /** Published outbox rows older than this are deleted, seconds. */
  readonly outboxSentSeconds: number;
  /** Idempotency keys older than this are deleted, seconds. */
  readonly requestLogSeconds: number;
  /** Consumer dedup records older than this are deleted, seconds. */
  readonly processedEventsSeconds: number;
  /** Rows per DELETE statement. */
  readonly batchRows?: number;
}

const day = 24 * 3600;

export const defaultRetention: RetentionPolicy = Object.freeze({
  outboxSentSeconds: 1 * day,
  requestLogSeconds: 7 * day,
  processedEventsSeconds: 8 * day,
});

/** Rows deleted by one run, by table. */
export interface RetentionReport {
  readonly outbox: number;
  readonly request_log: number;
  readonly processed_events: number;
}

/** Deletes what the policy no longer keeps; returns how many rows went from each table. */
export async function pruneKitTables(db: Pool, policy: RetentionPolicy): Promise<RetentionReport> {
  const batch = policy.batchRows ?? 1000;
  const cutoff = (seconds: number) => `CURRENT_TIMESTAMP(3) - INTERVAL ${Math.max(0, Math.floor(seconds))} SECOND`;
  const statements = {
    outbox: `DELETE FROM outbox WHERE sent_at IS NOT NULL AND sent_at < ${cutoff(policy.outboxSentSeconds)} LIMIT ${batch}`,
    request_log: `DELETE FROM request_log WHERE created_at < ${cutoff(policy.requestLogSeconds)} LIMIT ${batch}`,
    processed_events: `DELETE FROM processed_events WHERE processed_at < ${cutoff(policy.processedEventsSeconds)} LIMIT ${batch}`,
  };
  const report = { outbox: 0, request_log: 0, processed_events: 0 };
  for (const table of Object.keys(statements) as Array<keyof typeof statements>) {
    for (;;) {
      const [result] = await db.query(statements[table]);
      const n = (result as { affectedRows: number }).affectedRows;
      report[table] += n;
      if (n < batch) break;
    }
  }
  return report;
}
