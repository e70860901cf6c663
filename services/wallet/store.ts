/**
 * The ledger on MariaDB (implements domain/ledger.ts LedgerStore). Each write is one
 * READ COMMITTED transaction: no gap locks, and every read that decides something is a
 * locking read, so it sees the latest committed rows. Lock order, always: the hold's
 * open_holds row (post, void, expiry), then the accounts in ascending id. Balances,
 * history rows, daily totals and the outbox event are written in the same transaction
 * as the transfer; a crash at any point leaves all of them or none.
 */
import type { Pool } from "mysql2/promise";
import { isDuplicateKey, select, withTransaction, type Tx } from "#kit/mysql.ts";
import {
  Kind,
  State,
  availableOf,
  deriveTransferId,
  earnCodes,
  firstDifference,
  giveCodes,
  mintAccountId,
  type Account,
  type AuditReport,
  type Entry,
  type LedgerStore,
  type ResolveOutcome,
  type Transfer,
  type TransferOutcome,
  type TransferRequest,
  type TransferState,
} from "./domain/ledger.ts";

/** What the store announces, inside the transaction (the service adds outbox events). */
export interface LedgerEvents {
  posted(tx: Tx, transfer: Transfer): Promise<void>;
  holdCreated(tx: Tx, hold: Transfer): Promise<void>;
  holdVoided(tx: Tx, hold: Transfer, expired: boolean): Promise<void>;
}

interface TransferRow {
  id: string;
  debit_account_id: string;
  credit_account_id: string;
  amount: string;
  kind: number;
  pending_id: string | null;
  code: number;
  memo: string;
  post_id: string;
  timeout_seconds: number;
  created_at: Date;
  expires_at: Date | null;
}

interface AccountRow {
  id: string;
  must_not_go_negative: number;
  debits_posted: string;
  credits_posted: string;
  debits_pending: string;
  credits_pending: string;
}

const toTransfer = (r: TransferRow): Transfer => ({
  id: BigInt(r.id),
  debitAccountId: BigInt(r.debit_account_id),
  creditAccountId: BigInt(r.credit_account_id),
  amount: BigInt(r.amount),
  kind: r.kind as Transfer["kind"],
  pendingId: r.pending_id === null ? null : BigInt(r.pending_id),
  code: r.code as Transfer["code"],
  memo: r.memo,
  postId: BigInt(r.post_id),
  timeoutSeconds: r.timeout_seconds,
  createdAt: r.created_at,
  expiresAt: r.expires_at,
});

const toAccount = (r: AccountRow): Account => ({
  id: BigInt(r.id),
  mustNotGoNegative: r.must_not_go_negative === 1,
  debitsPosted: BigInt(r.debits_posted),
  creditsPosted: BigInt(r.credits_posted),
  debitsPending: BigInt(r.debits_pending),
  creditsPending: BigInt(r.credits_pending),
});

export class MysqlLedgerStore implements LedgerStore {
  private readonly known = new Set<bigint>();

  constructor(
    private readonly db: Pool,
    /** Time-ordered unique ids for history rows (the kit's snowflakes). */
    private readonly nextSeq: () => bigint,
    private readonly events: LedgerEvents,
    /** Called after a commit that wrote events (wakes the outbox relay). */
    private readonly afterCommit: () => void = () => {},
  ) {}

  /**
   * One READ COMMITTED transaction (the kit's, set once per connection: a round trip
   * saved on every transfer; the audit's snapshot sets its own level); deadlocks and
   * lock timeouts are retried (3 tries).
   */
  private tx<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return withTransaction(this.db, fn, { readCommitted: true });
  }

  /** User accounts are opened on first use, outside the transfer's transaction (see below). */
  private async ensureAccounts(ids: readonly bigint[]): Promise<void> {
    // Accounts are never deleted: ids seen once need no query again.
    const users = ids.filter((id) => id !== mintAccountId && !this.known.has(id));
    if (!users.length) return;
    const have = await select<{ id: string }>(this.db, "SELECT id FROM accounts WHERE id IN (?)", [users]);
    const missing = users.filter((id) => !have.some((h) => BigInt(h.id) === id));
    // INSERT IGNORE in its own autocommit statement: inside the transfer's transaction a
    // duplicate would take a shared lock that two transfers could both hold and then
    // both try to upgrade (a deadlock).
    for (const id of missing) {
      await this.db.query("INSERT IGNORE INTO accounts (id, must_not_go_negative, created_at) VALUES (?, 1, CURRENT_TIMESTAMP(3))", [id]);
    }
    if (this.known.size > 1_000_000) this.known.clear();
    for (const id of users) this.known.add(id);
  }

  private async lockAccounts(tx: Tx, ids: readonly bigint[]): Promise<Map<bigint, Account>> {
    const sorted = [...new Set(ids)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const rows = await select<AccountRow>(tx, "SELECT * FROM accounts WHERE id IN (?) ORDER BY id FOR UPDATE", [sorted]);
    return new Map(rows.map((r) => [BigInt(r.id), toAccount(r)]));
  }

  private async lockedTransfer(tx: Tx, id: bigint): Promise<Transfer | undefined> {
    const [row] = await select<TransferRow>(tx, "SELECT * FROM transfers WHERE id = ? FOR UPDATE", [id]);
    return row && toTransfer(row);
  }

  private async insertTransfer(tx: Tx, t: Transfer): Promise<void> {
    await tx.query(
      `INSERT INTO transfers (id, debit_account_id, credit_account_id, amount, kind, pending_id, code, memo, post_id, timeout_seconds, created_at, expires_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [t.id, t.debitAccountId, t.creditAccountId, t.amount, t.kind, t.pendingId, t.code, t.memo, t.postId, t.timeoutSeconds, t.createdAt, t.expiresAt],
    );
    const seq = this.nextSeq();
    await tx.query("INSERT INTO wallet_entries (account_id, seq, transfer_id) VALUES (?, ?, ?), (?, ?, ?)", [
      t.debitAccountId,
      seq,
      t.id,
      t.creditAccountId,
      seq,
      t.id,
    ]);
  }

  /**
   * Moves the sums of a transfer's two accounts in one statement: the debit account's
   * debits and the credit account's credits, `posted` and `pending` drops each (negative
   * to release a pending amount).
   */
  private async move(tx: Tx, debitId: bigint, creditId: bigint, posted: bigint, pending: bigint): Promise<void> {
    await tx.query(
      `UPDATE accounts SET
         debits_posted = debits_posted + IF(id = ?, ?, 0), debits_pending = debits_pending + IF(id = ?, ?, 0),
         credits_posted = credits_posted + IF(id = ?, ?, 0), credits_pending = credits_pending + IF(id = ?, ?, 0)
       WHERE id IN (?, ?)`,
      [debitId, posted, debitId, pending, creditId, posted, creditId, pending, debitId, creditId],
    );
  }

  async createTransfer(req: TransferRequest, now: Date): Promise<TransferOutcome> {
    await this.ensureAccounts([req.debitAccountId, req.creditAccountId]);
    try {
      const out = await this.tx((tx) => this.createLocked(tx, req, now));
      if (out.kind === "created") this.afterCommit();
      return out;
    } catch (err) {
      // A concurrent request with the same id committed first (we waited on its key
      // lock): report what it stored, like any retry.
      if (!isDuplicateKey(err, "PRIMARY")) throw err;
      const stored = await this.transfer(req.id);
      if (!stored) throw err;
      return { kind: "exists", transfer: stored, differs: req.dailyEarnCap === undefined ? firstDifference(stored, req) : undefined };
    }
  }

  private async createLocked(tx: Tx, req: TransferRequest, now: Date): Promise<TransferOutcome> {
    // The accounts locked, each with its drops of the day under the codes that limit this
    // transfer (given: the gift/tip/hold codes; earned: this rule's code): daily totals
    // change only under their account's lock, so one statement reads both.
    const codes = req.dailyEarnCap !== undefined ? [req.code] : giveCodes;
    const locked = await select<AccountRow & { today: string | null }>(
      tx,
      `SELECT a.*, (SELECT SUM(d.amount) FROM daily_totals d WHERE d.account_id = a.id AND d.day = ? AND d.code IN (?)) AS today
       FROM accounts a WHERE a.id IN (?) ORDER BY a.id FOR UPDATE`,
      [req.day, codes, [req.debitAccountId, req.creditAccountId].sort((a, b) => (a < b ? -1 : 1))],
    );
    const accounts = new Map(locked.map((r) => [BigInt(r.id), toAccount(r)]));
    const today = new Map(locked.map((r) => [BigInt(r.id), BigInt(r.today ?? 0)]));
    // A transfer with this id has the same debit account, so with that account locked it
    // is committed or not begun. The success path needs no lookup: the INSERT's primary
    // key refuses a duplicate (createTransfer then reports what is stored). A refusal
    // looks first, so a retry of a transfer that went through is never refused.
    const refuse = async (outcome: TransferOutcome): Promise<TransferOutcome> => {
      const existing = await this.lockedTransfer(tx, req.id);
      if (!existing) return outcome;
      return { kind: "exists", transfer: existing, differs: req.dailyEarnCap === undefined ? firstDifference(existing, req) : undefined };
    };
    const debit = accounts.get(req.debitAccountId)!;
    let amount = req.amount;
    if (req.dailyEarnCap !== undefined) {
      const earned = today.get(req.creditAccountId)!;
      if (earned + amount > req.dailyEarnCap) amount = req.dailyEarnCap - earned;
      if (amount <= 0n) return refuse({ kind: "capped" });
    }
    if (debit.mustNotGoNegative && availableOf(debit) < amount) return refuse({ kind: "insufficient", available: availableOf(debit) });
    if (req.dailyGivingLimit !== undefined) {
      const given = today.get(req.debitAccountId)!;
      if (given + amount > req.dailyGivingLimit) return refuse({ kind: "limit", givenToday: given });
    }
    const transfer: Transfer = {
      id: req.id,
      debitAccountId: req.debitAccountId,
      creditAccountId: req.creditAccountId,
      amount,
      kind: req.pending ? Kind.pending : Kind.single,
      pendingId: null,
      code: req.code,
      memo: req.memo,
      postId: req.postId,
      timeoutSeconds: req.timeoutSeconds,
      createdAt: now,
      expiresAt: req.pending ? new Date(now.getTime() + req.timeoutSeconds * 1000) : null,
    };
    await this.insertTransfer(tx, transfer);
    if (req.pending) {
      await this.move(tx, req.debitAccountId, req.creditAccountId, 0n, amount);
      await tx.query("INSERT INTO open_holds (transfer_id, expires_at) VALUES (?, ?)", [transfer.id, transfer.expiresAt]);
      await this.events.holdCreated(tx, transfer);
    } else {
      await this.move(tx, req.debitAccountId, req.creditAccountId, amount, 0n);
      await this.events.posted(tx, transfer);
    }
    // Given counts on the payer's side, earned on the payee's (one row per code and day).
    const countOn = earnCodes.includes(req.code) ? req.creditAccountId : req.debitAccountId;
    await tx.query(
      "INSERT INTO daily_totals (account_id, day, code, amount) VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE amount = amount + VALUES(amount)",
      [countOn, req.day, req.code, amount],
    );
    return { kind: "created", transfer };
  }

  /** The resolution (post or void) of a hold, if it has one. */
  private async resolutionOf(q: Tx | Pool, holdId: bigint, lock: boolean): Promise<Transfer | undefined> {
    const [row] = await select<TransferRow>(q, `SELECT * FROM transfers WHERE pending_id = ?${lock ? " FOR UPDATE" : ""}`, [holdId]);
    return row && toTransfer(row);
  }

  /**
   * Resolves a hold whose open_holds row is locked (so no one else resolves it now):
   * writes the post or void transfer, moves the sums, deletes the open_holds row.
   */
  private async resolveLocked(tx: Tx, hold: Transfer, action: "post" | "void", now: Date, expired: boolean): Promise<void> {
    await this.lockAccounts(tx, [hold.debitAccountId, hold.creditAccountId]);
    await this.insertTransfer(tx, {
      ...hold,
      id: deriveTransferId("resolve", hold.id),
      kind: action === "post" ? Kind.post : Kind.void,
      pendingId: hold.id,
      createdAt: now,
      expiresAt: null,
    });
    const a = hold.amount;
    if (action === "post") {
      await this.move(tx, hold.debitAccountId, hold.creditAccountId, a, -a);
      await this.events.posted(tx, hold);
    } else {
      await this.move(tx, hold.debitAccountId, hold.creditAccountId, 0n, -a);
      await this.events.holdVoided(tx, hold, expired);
    }
    await tx.query("DELETE FROM open_holds WHERE transfer_id = ?", [hold.id]);
  }

  async resolveHold(holdId: bigint, payerId: bigint | null, action: "post" | "void", now: Date): Promise<ResolveOutcome> {
    const hold = await this.transfer(holdId);
    if (!hold || hold.kind !== Kind.pending || (payerId !== null && hold.debitAccountId !== payerId)) return { kind: "not_found" };
    const out = await this.tx(async (tx): Promise<ResolveOutcome> => {
      const [open] = await select<{ transfer_id: string }>(tx, "SELECT transfer_id FROM open_holds WHERE transfer_id = ? FOR UPDATE", [holdId]);
      if (!open) {
        const done = await this.resolutionOf(tx, holdId, true);
        const state: TransferState = done?.kind === Kind.post ? State.posted : State.voided;
        const wanted = action === "post" ? State.posted : State.voided;
        // Repeating the same action returns its result; the other one is refused.
        return state === wanted ? { kind: "resolved", hold, state, replayed: true } : { kind: "not_pending", hold, state };
      }
      // Past its expiry a hold can no longer be posted (TigerBeetle's
      // pending_transfer_expired); the expiry job voids it, or this void does.
      if (action === "post" && hold.expiresAt! <= now) return { kind: "not_pending", hold, state: "expired" };
      await this.resolveLocked(tx, hold, action, now, false);
      return { kind: "resolved", hold, state: action === "post" ? State.posted : State.voided, replayed: false };
    });
    if (out.kind === "resolved" && !out.replayed) this.afterCommit();
    return out;
  }

  async expireHolds(now: Date, limit: number): Promise<Transfer[]> {
    const voided = await this.tx(async (tx) => {
      // SKIP LOCKED: replicas (or a user's PostHold) working on a hold are passed over,
      // so each expired hold is voided by exactly one transaction.
      const due = await select<{ transfer_id: string }>(
        tx,
        "SELECT transfer_id FROM open_holds WHERE expires_at <= ? ORDER BY expires_at, transfer_id LIMIT ? FOR UPDATE SKIP LOCKED",
        [now, limit],
      );
      if (!due.length) return [];
      const holds = await select<TransferRow>(tx, "SELECT * FROM transfers WHERE id IN (?)", [due.map((d) => d.transfer_id)]);
      // Voided in the order they fell due (history rows follow it).
      const byId = new Map(holds.map((r) => [r.id, toTransfer(r)]));
      const list = due.map((d) => byId.get(d.transfer_id)!);
      // All accounts of the batch in id order first, then each hold.
      await this.lockAccounts(tx, list.flatMap((h) => [h.debitAccountId, h.creditAccountId]));
      for (const h of list) await this.resolveLocked(tx, h, "void", now, true);
      return list;
    });
    if (voided.length) this.afterCommit();
    return voided;
  }

  async accounts(ids: readonly bigint[]): Promise<Map<bigint, Account>> {
    if (!ids.length) return new Map();
    const rows = await select<AccountRow>(this.db, "SELECT * FROM accounts WHERE id IN (?)", [ids]);
    return new Map(rows.map((r) => [BigInt(r.id), toAccount(r)]));
  }

  async walletOf(accountId: bigint, day: string): Promise<{ account: Account; earned: bigint; given: bigint } | undefined> {
    const [row] = await select<AccountRow & { earned: string | null; given: string | null }>(
      this.db,
      `SELECT a.*,
         (SELECT SUM(amount) FROM daily_totals d WHERE d.account_id = a.id AND d.day = ? AND d.code IN (?)) AS earned,
         (SELECT SUM(amount) FROM daily_totals d WHERE d.account_id = a.id AND d.day = ? AND d.code IN (?)) AS given
       FROM accounts a WHERE a.id = ?`,
      [day, earnCodes, day, giveCodes, accountId],
    );
    return row && { account: toAccount(row), earned: BigInt(row.earned ?? 0), given: BigInt(row.given ?? 0) };
  }

  async entries(accountId: bigint, limit: number, beforeSeq?: bigint): Promise<Entry[]> {
    const rows = await select<TransferRow & { seq: string }>(
      this.db,
      `SELECT e.seq, t.* FROM wallet_entries e JOIN transfers t ON t.id = e.transfer_id
       WHERE e.account_id = ?${beforeSeq === undefined ? "" : " AND e.seq < ?"} ORDER BY e.seq DESC LIMIT ?`,
      beforeSeq === undefined ? [accountId, limit] : [accountId, beforeSeq, limit],
    );
    return rows.map((r) => ({ seq: BigInt(r.seq), transfer: toTransfer(r) }));
  }

  async transfer(id: bigint): Promise<Transfer | undefined> {
    const [row] = await select<TransferRow>(this.db, "SELECT * FROM transfers WHERE id = ?", [id]);
    return row && toTransfer(row);
  }

  async audit(): Promise<AuditReport> {
    const conn = await this.db.getConnection();
    try {
      // One consistent snapshot for the stored sums and the transfers they count.
      await conn.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ");
      await conn.query("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY");
      const stored = await select<AccountRow>(conn, "SELECT * FROM accounts");
      // Posted: single-phase transfers and posted holds; pending: holds with no resolution.
      const sums = await select<{ account_id: string; dp: string; cp: string; dpe: string; cpe: string }>(
        conn,
        `SELECT account_id, SUM(dp) AS dp, SUM(cp) AS cp, SUM(dpe) AS dpe, SUM(cpe) AS cpe FROM (
           SELECT debit_account_id AS account_id, amount AS dp, 0 AS cp, 0 AS dpe, 0 AS cpe FROM transfers WHERE kind IN (0, 2)
           UNION ALL SELECT credit_account_id, 0, amount, 0, 0 FROM transfers WHERE kind IN (0, 2)
           UNION ALL SELECT h.debit_account_id, 0, 0, h.amount, 0 FROM transfers h LEFT JOIN transfers r ON r.pending_id = h.id WHERE h.kind = 1 AND r.id IS NULL
           UNION ALL SELECT h.credit_account_id, 0, 0, 0, h.amount FROM transfers h LEFT JOIN transfers r ON r.pending_id = h.id WHERE h.kind = 1 AND r.id IS NULL
         ) s GROUP BY account_id`,
      );
      await conn.commit();
      const truth = new Map(sums.map((s) => [s.account_id, s]));
      const drifted: bigint[] = [];
      const negative: bigint[] = [];
      let dp = 0n, cp = 0n, dpe = 0n, cpe = 0n, issued = 0n;
      for (const row of stored) {
        const a = toAccount(row);
        const t = truth.get(row.id);
        dp += a.debitsPosted;
        cp += a.creditsPosted;
        dpe += a.debitsPending;
        cpe += a.creditsPending;
        if (a.id === mintAccountId) issued = a.debitsPosted;
        const same =
          a.debitsPosted === BigInt(t?.dp ?? 0) &&
          a.creditsPosted === BigInt(t?.cp ?? 0) &&
          a.debitsPending === BigInt(t?.dpe ?? 0) &&
          a.creditsPending === BigInt(t?.cpe ?? 0);
        if (!same) drifted.push(a.id);
        if (a.mustNotGoNegative && a.debitsPosted + a.debitsPending > a.creditsPosted) negative.push(a.id);
      }
      // Transfers naming an account that does not exist are drift too.
      const known = new Set(stored.map((r) => r.id));
      for (const id of truth.keys()) if (!known.has(id)) drifted.push(BigInt(id));
      return { accounts: stored.length, debitsPosted: dp, creditsPosted: cp, debitsPending: dpe, creditsPending: cpe, drifted, negative, issued };
    } catch (err) {
      await conn.rollback().catch(() => {});
      throw err;
    } finally {
      conn.release();
    }
  }
}
