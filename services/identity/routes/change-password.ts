/**
 * ChangePassword: checks the current password (throttled like sign-in), stores the new
 * hash, revokes every live session and starts a new one. UNAUTHENTICATED WRONG_PASSWORD,
 * RESOURCE_EXHAUSTED LOGIN_THROTTLED, NOT_FOUND ACCOUNT_NOT_FOUND.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import { currentCaller } from "#kit/call-context.ts";
import { ErrorReason } from "#gen/oasis/identity/v1/errors_pb.ts";
import type { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import type { IdentityContext } from "../context.ts";
import { hashOptions, liveSince, startSession } from "../domain/sessions.ts";
import { revokeSessions } from "../revocation.ts";
import { clientIp } from "./client-ip.ts";

export function changePassword(ctx: IdentityContext): Pick<ServiceImpl<typeof IdentityService>, "changePassword"> {
  const { rt, errors, store, throttle } = ctx;
  return {
    async changePassword(req, handler) {
      const me = currentCaller().userId!;
      const login = `user:${me}`;
      const ip = clientIp(handler);
      await throttle.reserve(login, ip);
      const current = await store.passwordHashOf(rt.db, me);
      if (!current) throw errors.notFound(ErrorReason.ACCOUNT_NOT_FOUND, "account no longer exists");
      if (!(await Bun.password.verify(req.currentPassword, current))) {
        throw errors.unauthenticated(ErrorReason.WRONG_PASSWORD, "the current password is wrong");
      }
      await throttle.succeeded(login, ip);
      const hash = await Bun.password.hash(req.newPassword, hashOptions(ctx));
      const ids = await rt.tx(async (tx) => {
        const now = new Date();
        await store.passwordHashOf(tx, me, true);
        await store.updatePasswordHash(tx, me, hash, now);
        return store.revokeUserSessions(tx, me, liveSince(ctx), now);
      });
      await revokeSessions(ctx, ids);
      const profile = (await ctx.profiles.get([me])).get(me);
      const session = await startSession(ctx, me, profile?.handle ?? "");
      return { ...session, revokedCount: ids.length };
    },
  };
}
