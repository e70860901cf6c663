/** RevokeRole (admin): takes a role from the account of `handle`; returns its roles. PERMISSION_DENIED NOT_ADMIN, NOT_FOUND ACCOUNT_NOT_FOUND. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import type { IdentityContext } from "../context.ts";
import { accountByHandle, requireAdmin, rolesOf } from "../domain/roles.ts";

export function revokeRole(ctx: IdentityContext): Pick<ServiceImpl<typeof IdentityService>, "revokeRole"> {
  return {
    async revokeRole(req) {
      const by = await requireAdmin(ctx);
      const profile = await accountByHandle(ctx, req.handle);
      await ctx.store.revokeRole(ctx.rt.db, profile.userId, req.role);
      ctx.rt.log.warn({ user_id: String(profile.userId), role: req.role, by: String(by) }, "role revoked");
      return { userId: profile.userId, roles: await rolesOf(ctx, profile.userId, profile.handle) };
    },
  };
}
