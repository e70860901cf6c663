/** The suspension rule of sign-in and refresh (suspension.ts applies moderation's suspensions). */
import type { Queryable } from "#kit/mysql.ts";
import { ErrorReason } from "#gen/oasis/identity/v1/errors_pb.ts";
import type { IdentityContext } from "../context.ts";

/** Throws PERMISSION_DENIED ACCOUNT_SUSPENDED while a suspension of `userId` stands. */
export async function requireNotSuspended(ctx: IdentityContext, db: Queryable, userId: bigint): Promise<void> {
  if (await ctx.store.isSuspended(db, userId)) throw ctx.errors.permissionDenied(ErrorReason.ACCOUNT_SUSPENDED, "this account is suspended", { user_id: userId });
}
