/**
 * Why a use case refused, in domain words; routes turn it into a ConnectError with the
 * ErrorReason of errors.proto (routes/errors.ts). Metadata values are what a client
 * needs to act (amounts in drops, ids).
 */
export type WalletFailure =
  | "insufficient_drops"
  | "idempotency_key_reused"
  | "self_transfer"
  | "blocked"
  | "daily_giving_limit"
  | "post_not_found"
  | "hold_not_found"
  | "hold_not_pending"
  | "user_not_found"
  | "author_inactive";

export class WalletError extends Error {
  constructor(
    readonly failure: WalletFailure,
    message: string,
    readonly metadata: Record<string, string | bigint | number> = {},
  ) {
    super(message);
  }
}
