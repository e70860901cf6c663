/** Domain refusals -> ConnectErrors with wallet's ErrorReason (errors.proto). */
import { Code } from "@connectrpc/connect";
import { ErrorReason } from "#gen/oasis/wallet/v1/errors_pb.ts";
import type { DomainErrors } from "#kit/errors.ts";
import { WalletError, type WalletFailure } from "../domain/errors.ts";

const mapping: Record<WalletFailure, [Code, ErrorReason]> = {
  insufficient_drops: [Code.FailedPrecondition, ErrorReason.INSUFFICIENT_DROPS],
  idempotency_key_reused: [Code.AlreadyExists, ErrorReason.IDEMPOTENCY_KEY_REUSED],
  self_transfer: [Code.InvalidArgument, ErrorReason.SELF_TRANSFER],
  blocked: [Code.PermissionDenied, ErrorReason.BLOCKED],
  daily_giving_limit: [Code.FailedPrecondition, ErrorReason.DAILY_GIVING_LIMIT],
  post_not_found: [Code.NotFound, ErrorReason.POST_NOT_FOUND],
  hold_not_found: [Code.NotFound, ErrorReason.HOLD_NOT_FOUND],
  hold_not_pending: [Code.FailedPrecondition, ErrorReason.HOLD_NOT_PENDING],
  user_not_found: [Code.NotFound, ErrorReason.USER_NOT_FOUND],
  author_inactive: [Code.FailedPrecondition, ErrorReason.AUTHOR_INACTIVE],
};

/** Runs a use case; a WalletError becomes its ConnectError, anything else passes. */
export async function mapped<T>(errors: DomainErrors<ErrorReason>, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof WalletError)) throw err;
    const [code, reason] = mapping[err.failure];
    if (err.failure === "self_transfer") throw errors.invalid(reason, [{ field: "to_user_id", description: err.message }]);
    throw errors.fail(code, reason, err.message, err.metadata);
  }
}
