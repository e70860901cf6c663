/**
 * Roles: "admin" for the handles named in OASIS_ADMIN_HANDLES (the first admins, from
 * configuration), plus the roles admins granted (table `roles`: "moderator", "admin").
 * Access tokens carry them in the `roles` claim for the edge; services that enforce
 * ACCESS_MODERATOR/ACCESS_ADMIN ask GetRoles, so a revoked role bites at once there.
 */
import { isOperator } from "#kit/auth.ts";
import { currentCaller } from "#kit/call-context.ts";
import { ErrorReason } from "#gen/oasis/identity/v1/errors_pb.ts";
import type { Profile } from "#gen/oasis/identity/v1/profile_pb.ts";
import type { IdentityContext } from "../context.ts";
import { normalizeHandle } from "./rules.ts";

/** All roles of an account: configured admin plus granted ones, sorted and distinct. */
export async function rolesOf(ctx: IdentityContext, userId: bigint, handle: string): Promise<string[]> {
  const roles = new Set(await ctx.store.grantedRoles(ctx.rt.db, userId));
  if (ctx.config.adminHandles.has(handle)) roles.add("admin");
  return [...roles].sort();
}

/**
 * Throws NOT_ADMIN unless the caller is the operator identity acting for itself
 * (kit/auth.ts isOperator; returns 0n, recorded as granted_by 0) or its account holds
 * the admin role now (returns its user id).
 */
export async function requireAdmin(ctx: IdentityContext): Promise<bigint> {
  if (isOperator(currentCaller())) return 0n;
  const me = currentCaller().userId;
  const profile = me === null ? undefined : (await ctx.profiles.get([me])).get(me);
  if (!profile || !(await rolesOf(ctx, me!, profile.handle)).includes("admin")) {
    throw ctx.errors.permissionDenied(ErrorReason.NOT_ADMIN, "only an admin may do this");
  }
  return me!;
}

/** The account of a handle (any case); NOT_FOUND ACCOUNT_NOT_FOUND when there is none. */
export async function accountByHandle(ctx: IdentityContext, handleIn: string): Promise<Profile> {
  const handle = normalizeHandle(handleIn);
  const profile = await ctx.store.profileByHandle(ctx.rt.db, handle);
  if (!profile) throw ctx.errors.notFound(ErrorReason.ACCOUNT_NOT_FOUND, `no account ${handle}`, { lookup: handle });
  return profile;
}
