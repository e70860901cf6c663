/** Reading a wallet: balances from the account, today's earned and given from daily totals. */
import { balanceOf, earnCodes, giveCodes, utcDay, type LedgerStore } from "./ledger.ts";

export interface WalletView {
  readonly userId: bigint;
  /** Drops owned (posted). */
  readonly balance: bigint;
  /** Drops reserved by the user's pending holds. */
  readonly pending: bigint;
  readonly earnedToday: bigint;
  readonly givenToday: bigint;
}

/** The user's wallet now; zeros for a user who never had drops. */
export async function walletOf(store: LedgerStore, userId: bigint, now: Date): Promise<WalletView> {
  const [accounts, totals] = await Promise.all([store.accounts([userId]), store.dailyTotals(userId, utcDay(now))]);
  const a = accounts.get(userId);
  const sum = (codes: readonly number[]) => codes.reduce((s, c) => s + (totals.get(c) ?? 0n), 0n);
  return {
    userId,
    balance: a ? balanceOf(a) : 0n,
    pending: a?.debitsPending ?? 0n,
    earnedToday: sum(earnCodes),
    givenToday: sum(giveCodes),
  };
}
