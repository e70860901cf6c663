/** GetAccountStatus (internal): whether `user_id` exists and whether a suspension of it stands. */
import type { ServiceImpl } from "@connectrpc/connect";
import type { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import type { IdentityContext } from "../context.ts";

export function getAccountStatus(ctx: IdentityContext): Pick<ServiceImpl<typeof IdentityService>, "getAccountStatus"> {
  return {
    async getAccountStatus(req) {
      const exists = (await ctx.profiles.get([req.userId])).has(req.userId);
      return { exists, suspended: exists && (await ctx.store.isSuspended(ctx.rt.db, req.userId)) };
    },
  };
}
