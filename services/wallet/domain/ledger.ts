/**
 * The ledger's entities and the store interface the use cases run on (Kratos layering:
 * routes -> domain -> store). Modelled on TigerBeetle: accounts keep debits/credits
 * posted and pending; transfers are immutable; a hold is a pending transfer resolved
 * exactly once by a post or a void transfer naming it. Amounts are drops (bigint).
 */
import { createHash } from "node:crypto";

/** The system mint: debited by every earning (its balance is minus the drops issued). */
export const mintAccountId = 1n;

/** Transfer codes (why drops moved); the numbers are TransferCode's in wallet.proto. */
export const Code = {
  earnWelcome: 1,
  earnPost: 2,
  earnLike: 3,
  earnComment: 4,
  gift: 5,
  tip: 6,
  hold: 7,
  earnSignIn: 8,
} as const;
export type TransferCode = (typeof Code)[keyof typeof Code];
export const earnCodes: readonly TransferCode[] = [Code.earnWelcome, Code.earnPost, Code.earnLike, Code.earnComment, Code.earnSignIn];
export const giveCodes: readonly TransferCode[] = [Code.gift, Code.tip, Code.hold];

/** 0 single-phase (posted at once), 1 pending (hold), 2 post of a hold, 3 void of a hold. */
export type TransferKind = 0 | 1 | 2 | 3;
export const Kind = { single: 0, pending: 1, post: 2, void: 3 } as const;

/** State as the API shows it: 1 PENDING, 2 POSTED, 3 VOIDED (TransferState numbers). */
export type TransferState = 1 | 2 | 3;
export const State = { pending: 1, posted: 2, voided: 3 } as const;

export interface Transfer {
  readonly id: bigint;
  readonly debitAccountId: bigint;
  readonly creditAccountId: bigint;
  /** Drops, > 0. */
  readonly amount: bigint;
  readonly kind: TransferKind;
  /** For a post or void: the hold it resolves. */
  readonly pendingId: bigint | null;
  readonly code: TransferCode;
  readonly memo: string;
  readonly postId: bigint;
  /** A hold's timeout as requested, seconds (part of its idempotency fingerprint). */
  readonly timeoutSeconds: number;
  readonly createdAt: Date;
  /** A hold's expiry. */
  readonly expiresAt: Date | null;
}

export interface Account {
  readonly id: bigint;
  readonly mustNotGoNegative: boolean;
  readonly debitsPosted: bigint;
  readonly creditsPosted: bigint;
  readonly debitsPending: bigint;
  readonly creditsPending: bigint;
}

/** Posted credits minus posted debits, drops. */
export const balanceOf = (a: Account) => a.creditsPosted - a.debitsPosted;
/** What the owner may still give: balance minus outgoing pending holds, drops. */
export const availableOf = (a: Account) => a.creditsPosted - a.debitsPosted - a.debitsPending;

/** What a caller asks the ledger to write (a single-phase transfer or a hold). */
export interface TransferRequest {
  readonly id: bigint;
  readonly debitAccountId: bigint;
  readonly creditAccountId: bigint;
  readonly amount: bigint;
  readonly pending: boolean;
  readonly code: TransferCode;
  readonly memo: string;
  readonly postId: bigint;
  /** Holds only: seconds until the hold voids by itself. */
  readonly timeoutSeconds: number;
  /** The UTC day (YYYY-MM-DD) the daily limit or cap counts in. */
  readonly day: string;
  /** Giving: the payer's daily giving limit, drops (checked with the payer locked). */
  readonly dailyGivingLimit?: bigint;
  /** Earning: the payee's daily cap for this code, drops; the amount is cut to fit. */
  readonly dailyEarnCap?: bigint;
}

export type TransferOutcome =
  | { readonly kind: "created"; readonly transfer: Transfer }
  /** The id exists: a retry (same parameters) or a reused key (`differs` names a field). */
  | { readonly kind: "exists"; readonly transfer: Transfer; readonly differs?: string }
  | { readonly kind: "insufficient"; readonly available: bigint }
  | { readonly kind: "limit"; readonly givenToday: bigint }
  /** Earning only: the cap for the day is reached, nothing was written. */
  | { readonly kind: "capped" };

export type ResolveOutcome =
  | { readonly kind: "resolved"; readonly hold: Transfer; readonly state: TransferState; readonly replayed: boolean }
  | { readonly kind: "not_found" }
  | { readonly kind: "not_pending"; readonly hold: Transfer; readonly state: TransferState | "expired" };

/** One line of an account's history (the transfer seen from that account). */
export interface Entry {
  readonly seq: bigint;
  readonly transfer: Transfer;
}

export interface AuditReport {
  readonly accounts: number;
  readonly debitsPosted: bigint;
  readonly creditsPosted: bigint;
  readonly debitsPending: bigint;
  readonly creditsPending: bigint;
  /** Accounts whose stored sums differ from the sums of their transfers. */
  readonly drifted: readonly bigint[];
  /** User accounts with debits (posted + pending) above credits posted. */
  readonly negative: readonly bigint[];
  /** The mint's posted debits: drops issued. */
  readonly issued: bigint;
}

/**
 * What the use cases need from storage. Every method is one transaction; writes lock
 * the accounts they touch in id order (and a hold's open_holds row first), so
 * concurrent transfers never deadlock on each other and balances never race.
 */
export interface LedgerStore {
  /** Writes a transfer or a hold unless its id exists (then reports what is stored). */
  createTransfer(req: TransferRequest, now: Date): Promise<TransferOutcome>;
  /** Posts or voids hold `holdId`; `payerId` (if given) must be its debit account. */
  resolveHold(holdId: bigint, payerId: bigint | null, action: "post" | "void", now: Date): Promise<ResolveOutcome>;
  /** Voids up to `limit` holds past their expiry (SKIP LOCKED); returns the voided holds. */
  expireHolds(now: Date, limit: number): Promise<Transfer[]>;
  /** Accounts by id (absent ones left out). */
  accounts(ids: readonly bigint[]): Promise<Map<bigint, Account>>;
  /**
   * An account and its drops earned and given on `day`, read in one statement (one
   * snapshot: a transfer is in all three or in none); undefined if it has no account.
   */
  walletOf(accountId: bigint, day: string): Promise<{ account: Account; earned: bigint; given: bigint } | undefined>;
  /** An account's history, newest first, before `beforeSeq` if given. */
  entries(accountId: bigint, limit: number, beforeSeq?: bigint): Promise<Entry[]>;
  /** A transfer by id. */
  transfer(id: bigint): Promise<Transfer | undefined>;
  /** Recomputes every account from the transfers in one consistent snapshot. */
  audit(): Promise<AuditReport>;
}

/**
 * A transfer id derived from its parts: the first 63 bits of SHA-256 over them, so the
 * same (payer, request_id) or the same event always names the same transfer and a retry
 * is recognised by the primary key. Collisions need ~3e9 transfers for a 50% chance
 * of one pair (birthday bound on 2^63).
 */
export function deriveTransferId(...parts: ReadonlyArray<string | bigint | number>): bigint {
  const h = createHash("sha256").update(parts.map(String).join("\u0000")).digest();
  const id = h.readBigUInt64BE(0) & 0x7fff_ffff_ffff_ffffn;
  return id === 0n ? 1n : id;
}

/** The UTC day of a time, YYYY-MM-DD. */
export const utcDay = (t: Date) => t.toISOString().slice(0, 10);

/** The first field where a stored transfer differs from a new request, if any. */
export function firstDifference(t: Transfer, r: TransferRequest): string | undefined {
  if (t.debitAccountId !== r.debitAccountId) return "from_user_id";
  if (t.creditAccountId !== r.creditAccountId) return "to_user_id";
  if (t.code !== r.code) return "code";
  if (t.postId !== r.postId) return "post_id";
  if ((t.kind === Kind.pending) !== r.pending) return "pending";
  if (t.amount !== r.amount) return "amount";
  if (t.memo !== r.memo) return "memo";
  if (t.timeoutSeconds !== r.timeoutSeconds) return "timeout_seconds";
  return undefined;
}
