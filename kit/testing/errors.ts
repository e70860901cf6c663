/** Expecting a call to fail, in tests: the error it failed with, or a test failure if it succeeded. */
import { type Code, ConnectError } from "@connectrpc/connect";
import { errorReason } from "../errors.ts";

/** The ConnectError `call` rejects with; throws when it resolves (the call should have failed). */
export async function failure(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (err) {
    return ConnectError.from(err);
  }
  throw new Error("expected the call to fail, and it succeeded");
}

/** The Code and ErrorInfo reason (kit/errors.ts) `call` rejects with; throws when it resolves. */
export async function failureReason(call: Promise<unknown>): Promise<{ code: Code; reason: string | undefined }> {
  const err = await failure(call);
  return { code: err.code, reason: errorReason(err) };
}
