/** GetRoles: the roles of `user_id` (configured admin plus granted), sorted; none for an unknown id. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import type { IdentityContext } from "../context.ts";
import { rolesOf } from "../domain/roles.ts";

export function getRoles(ctx: IdentityContext): Pick<ServiceImpl<typeof IdentityService>, "getRoles"> {
  return {
    async getRoles(req) {
      const profile = (await ctx.profiles.get([req.userId])).get(req.userId);
      return { roles: profile ? await rolesOf(ctx, req.userId, profile.handle) : [] };
    },
  };
}
