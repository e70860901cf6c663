/**
 * Earning drops from what people do (events other services publish): each rule pays a
 * configured amount from the mint, up to a daily cap per user and rule (UTC day of the
 * event, so a redelivery on another day counts in the same day). The transfer id is
 * derived from what earned it (the user for the welcome grant, the user and UTC day for
 * the daily sign-in, the like's post and liker, the comment, the post), so an event
 * delivered twice earns once.
 */
import { Code, deriveTransferId, mintAccountId, utcDay, type LedgerStore, type TransferCode, type TransferOutcome } from "./ledger.ts";

export interface EarnRule {
  /** Drops per occurrence. */
  readonly amount: bigint;
  /** Drops per user per UTC day at most; the last payment is cut to fit. */
  readonly dailyCap: bigint;
}

export interface EarnRules {
  readonly welcome: EarnRule;
  /** The first sign-in of a UTC day (the cap is the amount: once a day). */
  readonly signIn: EarnRule;
  readonly post: EarnRule;
  readonly like: EarnRule;
  readonly comment: EarnRule;
}

export interface Earning {
  readonly userId: bigint;
  readonly code: TransferCode;
  /** What earned it; derives the transfer id. */
  readonly key: ReadonlyArray<string | bigint>;
  readonly postId: bigint;
  /** When it happened (the event's time). */
  readonly at: Date;
}

const ruleOf = (rules: EarnRules, code: TransferCode): EarnRule =>
  code === Code.earnWelcome
    ? rules.welcome
    : code === Code.earnSignIn
      ? rules.signIn
      : code === Code.earnPost
        ? rules.post
        : code === Code.earnLike
          ? rules.like
          : rules.comment;

/** Pays an earning once; "capped" when the user reached the day's cap for the rule. */
export async function earn(store: LedgerStore, rules: EarnRules, e: Earning): Promise<TransferOutcome> {
  const rule = ruleOf(rules, e.code);
  if (rule.amount <= 0n) return { kind: "capped" };
  return store.createTransfer(
    {
      id: deriveTransferId("earn", e.code, ...e.key),
      debitAccountId: mintAccountId,
      creditAccountId: e.userId,
      amount: rule.amount,
      pending: false,
      code: e.code,
      memo: "",
      postId: e.postId,
      timeoutSeconds: 0,
      day: utcDay(e.at),
      dailyEarnCap: rule.dailyCap,
    },
    e.at,
  );
}
