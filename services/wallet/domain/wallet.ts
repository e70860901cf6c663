/** Reading a wallet: balances from the account, today's earned and given from its daily totals. */
import { balanceOf, utcDay, type LedgerStore } from "./ledger.ts";

export interface WalletView {
  readonly userId: bigint;
  /** Drops owned (posted). */
  readonly balance: bigint;
  /** Drops reserved by the user's pending holds. */
  readonly pending: bigint;
  readonly earnedToday: bigint;
  readonly givenToday: bigint;
}

/** The user's wallet now (one consistent read); zeros for a user who never had drops. */
export async function walletOf(store: LedgerStore, userId: bigint, now: Date): Promise<WalletView> {
  const w = await store.walletOf(userId, utcDay(now));
  return {
    userId,
    balance: w ? balanceOf(w.account) : 0n,
    pending: w?.account.debitsPending ?? 0n,
    earnedToday: w?.earned ?? 0n,
    givenToday: w?.given ?? 0n,
  };
}
