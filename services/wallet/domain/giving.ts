/**
 * Giving drops: Transfer (a gift), TipPost (to a post's author, held until the author
 * is confirmed active) and holds (two-phase: CreateHold reserves, PostHold or VoidHold
 * or the timeout resolves). Rules, in order:
 * a retry of a committed request replays it (before any other check, so a later block
 * or a deleted post cannot change a result already given); no self-transfers; the payee
 * must exist and neither user may block the other; then the ledger checks the payer's
 * available drops and the daily giving limit with the payer's account locked.
 */
import { WalletError } from "./errors.ts";
import {
  Code,
  State,
  deriveTransferId,
  firstDifference,
  utcDay,
  type LedgerStore,
  type Transfer,
  type TransferCode,
  type TransferRequest,
} from "./ledger.ts";

/** What giving needs from outside the ledger (other services, the clock, config). */
export interface GivingDeps {
  readonly store: LedgerStore;
  /** Drops a user may give per UTC day (gifts, tips and holds together). */
  readonly dailyGivingLimit: bigint;
  /** A hold's timeout when the request gives none, seconds. */
  readonly defaultHoldSeconds: number;
  /** A tip's hold timeout, seconds: how long an unconfirmed tip keeps its drops reserved. */
  readonly tipHoldSeconds: number;
  readonly now: () => Date;
  /** True if either user blocks the other (graph). */
  blockedBetween(a: bigint, b: bigint): Promise<boolean>;
  /** True if the user has an account (identity). */
  userExists(userId: bigint): Promise<boolean>;
  /**
   * True if the user is active, so a tip to them may be posted. Today: the account
   * exists (identity, as the service). The hook for issue 20: a suspended or deleted
   * account answers false here and its pending tips are voided.
   */
  authorActive(userId: bigint): Promise<boolean>;
  /** The author of a post `viewer` may see, or undefined (post). */
  postAuthor(postId: bigint, viewer: bigint): Promise<bigint | undefined>;
}

export interface GiveInput {
  readonly payerId: bigint;
  /** Gift and hold: the payee; tip: ignored (the post's author). */
  readonly payeeId: bigint;
  /** Drops, > 0 (the contract limits it). */
  readonly amount: bigint;
  readonly memo: string;
  readonly requestId: string;
  readonly code: TransferCode;
  /** Tip: the post. */
  readonly postId: bigint;
  /** Hold: seconds, 0 = default. */
  readonly timeoutSeconds: number;
  /** Reserve as a hold even if the code is not HOLD (a tip held until confirmed). */
  readonly held?: boolean;
}

/** The transfer id of a giving request: one key space per payer across all giving RPCs. */
export const givingTransferId = (payerId: bigint, requestId: string) => deriveTransferId("give", payerId, requestId);

function reused(existing: Transfer, differs: string): WalletError {
  return new WalletError("idempotency_key_reused", `request_id was already used with a different ${differs}`, { transfer_id: existing.id, differs });
}

/**
 * Writes a gift, tip or hold; returns the transfer as first written (a retry gets the
 * same). Throws WalletError: self_transfer, user_not_found, post_not_found, blocked,
 * insufficient_drops, daily_giving_limit, idempotency_key_reused.
 */
export async function give(deps: GivingDeps, input: GiveInput): Promise<Transfer> {
  const id = givingTransferId(input.payerId, input.requestId);
  const pending = input.code === Code.hold || input.held === true;
  const timeoutSeconds = pending ? input.timeoutSeconds || deps.defaultHoldSeconds : 0;
  const now = deps.now();
  const request = (payeeId: bigint): TransferRequest => ({
    id,
    debitAccountId: input.payerId,
    creditAccountId: payeeId,
    amount: input.amount,
    pending,
    code: input.code,
    memo: input.memo,
    postId: input.code === Code.tip ? input.postId : 0n,
    timeoutSeconds,
    day: utcDay(now),
    dailyGivingLimit: deps.dailyGivingLimit,
  });
  const existing = await deps.store.transfer(id);
  if (existing) {
    // A tip's payee comes from the post; the post id is compared instead.
    const differs = firstDifference(existing, request(input.code === Code.tip ? existing.creditAccountId : input.payeeId));
    if (differs) throw reused(existing, differs);
    return existing;
  }
  let payeeId = input.payeeId;
  if (input.code === Code.tip) {
    const author = await deps.postAuthor(input.postId, input.payerId);
    if (author === undefined) throw new WalletError("post_not_found", `no post ${input.postId} you can see`, { post_id: input.postId });
    payeeId = author;
  } else if (!(await deps.userExists(payeeId))) {
    throw new WalletError("user_not_found", `no user ${payeeId}`, { user_id: payeeId });
  }
  if (payeeId === input.payerId) throw new WalletError("self_transfer", "you cannot give drops to yourself");
  if (await deps.blockedBetween(input.payerId, payeeId)) throw new WalletError("blocked", "one of you blocks the other", { user_id: payeeId });
  const out = await deps.store.createTransfer(request(payeeId), now);
  switch (out.kind) {
    case "created":
      return out.transfer;
    case "exists":
      if (out.differs) throw reused(out.transfer, out.differs);
      return out.transfer;
    case "insufficient":
      throw new WalletError("insufficient_drops", `only ${out.available} drops available`, { available: out.available, amount: input.amount });
    case "limit":
      throw new WalletError("daily_giving_limit", `daily giving limit of ${deps.dailyGivingLimit} drops reached`, {
        limit: deps.dailyGivingLimit,
        given_today: out.givenToday,
      });
    case "capped":
      throw new Error("giving is never capped");
  }
}

/**
 * A tip held until its author is confirmed active (the first hold): reserves the
 * drops as a hold with code TIP (give, with every giving check), asks whether the post's
 * author is active, then posts the hold, or voids it and throws author_inactive. Nothing
 * is paid to an author who is gone, and a tip interrupted between the two phases (a
 * crash, identity unavailable) is no half-payment: its hold stays pending until a retry
 * with the same request_id resumes it here or `tipHoldSeconds` pass and the expiry job
 * voids it. A retry of a resolved tip replays it (posted), or throws hold_not_pending
 * (voided by its timeout) or author_inactive (voided for its author). Returns the hold.
 */
export async function tip(deps: GivingDeps, input: { payerId: bigint; postId: bigint; amount: bigint; requestId: string }): Promise<Transfer> {
  const hold = await give(deps, {
    payerId: input.payerId,
    payeeId: 0n,
    amount: input.amount,
    memo: "",
    requestId: input.requestId,
    code: Code.tip,
    postId: input.postId,
    timeoutSeconds: deps.tipHoldSeconds,
    held: true,
  });
  const active = await deps.authorActive(hold.creditAccountId);
  const out = await deps.store.resolveHold(hold.id, input.payerId, active ? "post" : "void", deps.now());
  if (out.kind === "not_found") throw new Error(`tip ${hold.id} has no hold`);
  // Posted now or before (a retry after the author left still replays the paid tip).
  if (out.state === State.posted) return hold;
  if (!active) {
    throw new WalletError("author_inactive", `the post's author is no longer active; the tip was voided`, { user_id: hold.creditAccountId, hold_id: hold.id });
  }
  throw new WalletError("hold_not_pending", `the tip's hold timed out before it was confirmed`, {
    hold_id: hold.id,
    state: out.state === "expired" ? "EXPIRED" : "VOIDED",
  });
}

/**
 * Posts or voids the payer's hold; repeating the same action returns the same result.
 * Throws WalletError hold_not_found or hold_not_pending (metadata `state`).
 */
export async function resolveHold(deps: Pick<GivingDeps, "store" | "now">, payerId: bigint, holdId: bigint, action: "post" | "void"): Promise<Transfer> {
  const out = await deps.store.resolveHold(holdId, payerId, action, deps.now());
  if (out.kind === "not_found") throw new WalletError("hold_not_found", `no hold ${holdId} of yours`, { hold_id: holdId });
  if (out.kind === "not_pending") {
    const state = out.state === "expired" ? "EXPIRED" : out.state === 2 ? "POSTED" : "VOIDED";
    throw new WalletError("hold_not_pending", `hold ${holdId} is ${state.toLowerCase()}`, { hold_id: holdId, state });
  }
  return out.hold;
}
