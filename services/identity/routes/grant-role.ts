/** GrantRole (admin): gives the account of `handle` a role; returns its roles. PERMISSION_DENIED NOT_ADMIN, NOT_FOUND ACCOUNT_NOT_FOUND. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import type { IdentityContext } from "../context.ts";
import { accountByHandle, requireAdmin, rolesOf } from "../domain/roles.ts";

export function grantRole(ctx: IdentityContext): Pick<ServiceImpl<typeof IdentityService>, "grantRole"> {
  return {
    async grantRole(req) {
      const by = await requireAdmin(ctx);
      const profile = await accountByHandle(ctx, req.handle);
      await ctx.store.grantRole(ctx.rt.db, profile.userId, req.role, by, new Date());
      ctx.rt.log.warn({ user_id: String(profile.userId), role: req.role, by: String(by) }, "role granted");
      return { userId: profile.userId, roles: await rolesOf(ctx, profile.userId, profile.handle) };
    },
  };
}
