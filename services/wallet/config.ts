/**
 * Wallet's configuration. Env (optional; amounts in drops):
 * - OASIS_WALLET_WELCOME_DROPS [100]: the welcome grant at sign-up (once per user).
 * - OASIS_WALLET_SIGNIN_DROPS [5]: the first sign-in of a UTC day (identity's
 *   session_created; once per user and day, later sign-ins that day earn nothing).
 * - OASIS_WALLET_POST_DROPS [5], OASIS_WALLET_POST_DAILY_CAP [25]: per post published.
 * - OASIS_WALLET_LIKE_DROPS [1], OASIS_WALLET_LIKE_DAILY_CAP [50]: per like received
 *   (once per liker and post; self-likes earn nothing).
 * - OASIS_WALLET_COMMENT_DROPS [2], OASIS_WALLET_COMMENT_DAILY_CAP [40]: per comment
 *   received from someone else.
 * - OASIS_WALLET_DAILY_GIVING_LIMIT [1000]: drops a user may give per UTC day.
 * - OASIS_WALLET_HOLD_SECONDS [3600]: a hold's timeout when the request gives none.
 * - OASIS_WALLET_TIP_HOLD_SECONDS [60]: a tip's hold timeout: how long a tip whose
 *   author could not be confirmed active (a crash, identity down) keeps the drops
 *   reserved before it voids by itself.
 * - OASIS_WALLET_EXPIRE_MS [1000]: how often expired holds are voided.
 * - OASIS_WALLET_AUDIT_MS [60000]: how often the ledger audit runs.
 * Daily giving is bounded so a stolen session cannot drain a wallet at once; earning caps
 * keep like farming from minting drops without bound. The numbers are starting points
 * for the seeds' app, not measured.
 */
import { baseConfig, type BaseConfig, type Env } from "#kit/config.ts";
import { nonNegativeIntEnv, positiveIntEnv } from "#kit/env.ts";
import type { EarnRules } from "./domain/earning.ts";

export interface WalletConfig extends BaseConfig {
  readonly rules: EarnRules;
  readonly dailyGivingLimit: bigint;
  readonly defaultHoldSeconds: number;
  readonly tipHoldSeconds: number;
  readonly expireMs: number;
  readonly auditMs: number;
}

const nonNegative = nonNegativeIntEnv;

export function loadWalletConfig(env: Env = process.env): WalletConfig {
  const drops = (name: string, fallback: number) => BigInt(nonNegative(env, `OASIS_WALLET_${name}`, fallback));
  return Object.freeze({
    ...baseConfig("wallet", env),
    rules: Object.freeze({
      welcome: { amount: drops("WELCOME_DROPS", 100), dailyCap: drops("WELCOME_DROPS", 100) },
      signIn: { amount: drops("SIGNIN_DROPS", 5), dailyCap: drops("SIGNIN_DROPS", 5) },
      post: { amount: drops("POST_DROPS", 5), dailyCap: drops("POST_DAILY_CAP", 25) },
      like: { amount: drops("LIKE_DROPS", 1), dailyCap: drops("LIKE_DAILY_CAP", 50) },
      comment: { amount: drops("COMMENT_DROPS", 2), dailyCap: drops("COMMENT_DAILY_CAP", 40) },
    }),
    dailyGivingLimit: drops("DAILY_GIVING_LIMIT", 1000),
    defaultHoldSeconds: positiveIntEnv(env, "OASIS_WALLET_HOLD_SECONDS", 3600),
    tipHoldSeconds: positiveIntEnv(env, "OASIS_WALLET_TIP_HOLD_SECONDS", 60),
    expireMs: positiveIntEnv(env, "OASIS_WALLET_EXPIRE_MS", 1000),
    auditMs: positiveIntEnv(env, "OASIS_WALLET_AUDIT_MS", 60_000),
  });
}
