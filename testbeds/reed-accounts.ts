/**
 * Real accounts for the Reed98 members used by tests and benchmarks: `reed_<n>` with a
 * request id per member (so a retried setup makes no duplicates), some made private.
 */
import type { Client } from "@connectrpc/connect";
import type { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { inParallel } from "#kit/parallel.ts";

export interface ReedAccountOptions {
  /** Members whose account is made private after sign-up. */
  readonly private?: (n: number) => boolean;
  /** Sign-ups in flight; default 8 (identity hashes passwords: CPU-bound). */
  readonly concurrency?: number;
}

/**
 * Signs up `members` through `identity(asUser?)` and returns their user ids in the
 * order of `members`. The password is the tests' shared "correct horse battery".
 */
export async function createReedAccounts(
  identity: (asUser?: bigint) => Client<typeof IdentityService>,
  members: readonly number[],
  opts: ReedAccountOptions = {},
): Promise<bigint[]> {
  const ids: bigint[] = new Array(members.length);
  await inParallel(members, opts.concurrency ?? 8, async (n, i) => {
    const r = await identity().createAccount({ handle: `reed_${n}`, email: `reed_${n}@reed.example`, password: "correct horse battery", requestId: `acct-${n}` });
    const id = r.account!.userId;
    ids[i] = id;
    if (opts.private?.(n)) await identity(id).updateProfile({ profile: { userId: id, private: true }, updateMask: { paths: ["private"] } });
  });
  return ids;
}
