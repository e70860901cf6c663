/**
 * Wallet ledger benchmark, in one run on this machine: durable transfers/s and p99 of the
 * ledger (MysqlLedgerStore.createTransfer: accounts locked in id order, the idempotency
 * check, the balance and daily-limit checks, the transfer, two history rows, two
 * balance updates, the daily total and the outbox-style event row, one commit), beside
 * a bare-MariaDB baseline doing the same inserts and updates with no locks or checks.
 * Both run with 64 concurrent clients over 1,000 funded accounts, on the server's own
 * durability settings, which are printed (innodb_flush_log_at_trx_commit=1: every
 * commit is on disk before it is acknowledged).
 *
 * Run: bun bench/wallet.ts [transfers per run, default 5000]
 */
import { join } from "node:path";
import { databaseName } from "#kit/config.ts";
import { createIdGenerator } from "#kit/ids.ts";
import { createLogger } from "#kit/logger.ts";
import { dropDatabase, openDatabase, select } from "#kit/mysql.ts";
import { inParallel } from "#kit/parallel.ts";
import { testNamespace } from "#kit/testing/namespace.ts";
import { Code, deriveTransferId, mintAccountId, utcDay } from "../services/wallet/domain/ledger.ts";
import { MysqlLedgerStore } from "../services/wallet/store.ts";
import { ensureInfra } from "../scripts/infra.ts";
import { closedLoop } from "./lib/load-clients.ts";
import { machineLine } from "./lib/machine.ts";

const n = Number(process.argv[2] ?? 5000);
const concurrency = 64;
const accounts = 1000;
await ensureInfra();
console.log(machineLine());
const url = process.env.OASIS_MYSQL_URL ?? "mysql://root@127.0.0.1:3306";
const database = databaseName("wallet", testNamespace());
const db = await openDatabase({ url, database, migrationsDir: join(import.meta.dir, "../services/wallet/migrations"), log: createLogger("bench", "warn"), connectionLimit: concurrency });
try {
  const [settings] = await select<{ flush: number; binlog: string; sync: number }>(db, "SELECT @@innodb_flush_log_at_trx_commit AS flush, @@log_bin AS binlog, @@sync_binlog AS sync");
  console.log(`MariaDB: innodb_flush_log_at_trx_commit=${settings!.flush}, log_bin=${settings!.binlog}, sync_binlog=${settings!.sync}`);
  await db.query(
    `CREATE TABLE outbox_bench (id BIGINT NOT NULL PRIMARY KEY, payload VARBINARY(200) NOT NULL)`,
  );
  const ids = createIdGenerator(7);
  const store = new MysqlLedgerStore(db, () => ids.next(), {
    // The service writes one outbox row per transfer in the same transaction: so does the bench.
    posted: async (tx, t) => void (await tx.query("INSERT INTO outbox_bench (id, payload) VALUES (?, ?)", [ids.next(), Buffer.alloc(80, Number(t.amount % 256n))])),
    holdCreated: async () => {},
    holdVoided: async () => {},
  });
  const users = Array.from({ length: accounts }, (_, i) => 1_000_000n + BigInt(i));
  const day = utcDay(new Date());
  await inParallel(users, 16, async (u) => {
    await store.createTransfer(
      { id: deriveTransferId("bench-fund", u), debitAccountId: mintAccountId, creditAccountId: u, amount: 1_000_000n, pending: false, code: Code.earnWelcome, memo: "", postId: 0n, timeoutSeconds: 0, day },
      new Date(),
    );
  });
  const pair = (i: number) => {
    const a = users[(i * 7919) % accounts]!;
    let b = users[(i * 104729 + 13) % accounts]!;
    if (b === a) b = users[((i * 7919) % accounts + 1) % accounts]!;
    return [a, b] as const;
  };

  const ledger = await closedLoop(n, concurrency, async (i) => {
    const [a, b] = pair(i);
    const out = await store.createTransfer(
      { id: deriveTransferId("bench", i), debitAccountId: a, creditAccountId: b, amount: BigInt(1 + (i % 50)), pending: false, code: Code.gift, memo: "bench", postId: 0n, timeoutSeconds: 0, day, dailyGivingLimit: 1_000_000_000n },
      new Date(),
    );
    if (out.kind !== "created") throw new Error(out.kind);
  });

  // Baseline: the same rows written by plain statements in one transaction each.
  await db.query("CREATE TABLE transfers_bare LIKE transfers");
  await db.query("CREATE TABLE entries_bare LIKE wallet_entries");
  await db.query("CREATE TABLE accounts_bare AS SELECT * FROM accounts");
  await db.query("ALTER TABLE accounts_bare ADD PRIMARY KEY (id)");
  await db.query("CREATE TABLE daily_bare LIKE daily_totals");
  const bare = await closedLoop(n, concurrency, async (i) => {
    const [a, b] = pair(i);
    const amount = 1 + (i % 50);
    const conn = await db.getConnection();
    try {
      await conn.beginTransaction();
      const id = deriveTransferId("bare", i);
      await conn.query(
        "INSERT INTO transfers_bare (id, debit_account_id, credit_account_id, amount, kind, code, memo, created_at) VALUES (?, ?, ?, ?, 0, 5, 'bench', CURRENT_TIMESTAMP(3))",
        [id, a, b, amount],
      );
      const seq = ids.next();
      await conn.query("INSERT INTO entries_bare (account_id, seq, transfer_id) VALUES (?, ?, ?), (?, ?, ?)", [a, seq, id, b, seq, id]);
      await conn.query("UPDATE accounts_bare SET debits_posted = debits_posted + ? WHERE id = ?", [amount, a]);
      await conn.query("UPDATE accounts_bare SET credits_posted = credits_posted + ? WHERE id = ?", [amount, b]);
      await conn.query("INSERT INTO daily_bare (account_id, day, code, amount) VALUES (?, ?, 5, ?) ON DUPLICATE KEY UPDATE amount = amount + VALUES(amount)", [a, day, amount]);
      await conn.query("INSERT INTO outbox_bench (id, payload) VALUES (?, ?)", [ids.next(), Buffer.alloc(80, amount)]);
      await conn.commit();
    } catch (err) {
      await conn.rollback();
      throw err;
    } finally {
      conn.release();
    }
  });

  const audit = await store.audit();
  const line = (name: string, r: typeof ledger) =>
    `${name}: ${r.count} transfers in ${r.seconds.toFixed(1)} s = ${r.rate.toFixed(0)}/s, p50 ${r.p50Ms.toFixed(1)} ms, p99 ${r.p99Ms.toFixed(1)} ms, ${r.errors} errors`;
  console.log(`2 cores, ${concurrency} concurrent clients, ${accounts} accounts, durable commits:`);
  console.log(line("  ledger (locks, checks, idempotency)", ledger));
  console.log(line("  bare MariaDB, same rows          ", bare));
  console.log(`  ratio ledger / bare: ${(ledger.rate / bare.rate).toFixed(2)}; goal >= 500 transfers/s: ${ledger.rate >= 500 ? "met" : "not met"}`);
  console.log(`  audit after the run: debits ${audit.debitsPosted} = credits ${audit.creditsPosted}, ${audit.drifted.length} drifted, ${audit.negative.length} negative`);
} finally {
  await db.end();
  await dropDatabase(url, database);
}
