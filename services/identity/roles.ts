/**
 * Roles: "admin" for the handles named in OASIS_ADMIN_HANDLES (the first admins, from
 * configuration), plus the roles admins granted (table `roles`: "moderator", "admin").
 * Access tokens carry them in the `roles` claim for the edge; services that enforce
 * ACCESS_MODERATOR/ACCESS_ADMIN ask GetRoles, so a revoked role bites at once there.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import { isOperator } from "#kit/auth.ts";
import { currentCaller } from "#kit/call-context.ts";
import { select, write, type Queryable } from "#kit/mysql.ts";
import { ErrorReason } from "#gen/oasis/identity/v1/errors_pb.ts";
import type { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import type { IdentityContext } from "./context.ts";
import { normalizeHandle } from "./domain.ts";
import { profileByHandle } from "./store.ts";

/** The granted roles of `userId`, sorted. */
async function grantedRoles(db: Queryable, userId: bigint): Promise<string[]> {
  const rows = await select<{ role: string }>(db, "SELECT role FROM roles WHERE user_id = ? ORDER BY role", [userId]);
  return rows.map((r) => r.role);
}

/** All roles of an account: configured admin plus granted ones, sorted and distinct. */
export async function rolesOf(ctx: IdentityContext, userId: bigint, handle: string): Promise<string[]> {
  const roles = new Set(await grantedRoles(ctx.rt.db, userId));
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

export function roleRoutes(ctx: IdentityContext): Pick<ServiceImpl<typeof IdentityService>, "grantRole" | "revokeRole" | "getRoles"> {
  async function account(handleIn: string) {
    const handle = normalizeHandle(handleIn);
    const profile = await profileByHandle(ctx.rt.db, handle);
    if (!profile) throw ctx.errors.notFound(ErrorReason.ACCOUNT_NOT_FOUND, `no account ${handle}`, { lookup: handle });
    return profile;
  }
  return {
    async grantRole(req) {
      const by = await requireAdmin(ctx);
      const profile = await account(req.handle);
      await write(ctx.rt.db, "INSERT IGNORE INTO roles (user_id, role, granted_by, granted_at) VALUES (?, ?, ?, ?)", [profile.userId, req.role, by, new Date()]);
      ctx.rt.log.warn({ user_id: String(profile.userId), role: req.role, by: String(by) }, "role granted");
      return { userId: profile.userId, roles: await rolesOf(ctx, profile.userId, profile.handle) };
    },
    async revokeRole(req) {
      const by = await requireAdmin(ctx);
      const profile = await account(req.handle);
      await write(ctx.rt.db, "DELETE FROM roles WHERE user_id = ? AND role = ?", [profile.userId, req.role]);
      ctx.rt.log.warn({ user_id: String(profile.userId), role: req.role, by: String(by) }, "role revoked");
      return { userId: profile.userId, roles: await rolesOf(ctx, profile.userId, profile.handle) };
    },
    async getRoles(req) {
      const profile = (await ctx.profiles.get([req.userId])).get(req.userId);
      return { roles: profile ? await rolesOf(ctx, req.userId, profile.handle) : [] };
    },
  };
}
