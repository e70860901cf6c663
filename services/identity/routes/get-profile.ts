/**
 * GetProfile: one profile by user id (through the profile cache) or handle, as the
 * caller may see it. NOT_FOUND ACCOUNT_NOT_FOUND, UNAUTHENTICATED PROFILE_PRIVATE.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import type { IdentityContext } from "../context.ts";
import { readable } from "../domain/profiles.ts";
import { normalizeHandle } from "../domain/rules.ts";

export function getProfile(ctx: IdentityContext): Pick<ServiceImpl<typeof IdentityService>, "getProfile"> {
  return {
    async getProfile(req) {
      const l = req.lookup;
      const profile =
        l.case === "userId"
          ? await readable(ctx, (await ctx.profiles.get([l.value])).get(l.value), String(l.value))
          : await readable(ctx, await ctx.store.profileByHandle(ctx.rt.db, normalizeHandle(l.value ?? "")), String(l.value));
      return { profile };
    },
  };
}
