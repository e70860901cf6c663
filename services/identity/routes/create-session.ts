/**
 * CreateSession: sign-in by handle or e-mail and password; returns the session's tokens.
 * UNAUTHENTICATED INVALID_CREDENTIALS, RESOURCE_EXHAUSTED LOGIN_THROTTLED (per login and
 * client IP), PERMISSION_DENIED ACCOUNT_SUSPENDED.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import { ErrorReason } from "#gen/oasis/identity/v1/errors_pb.ts";
import type { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import type { IdentityContext } from "../context.ts";
import { normalizeLogin } from "../domain/rules.ts";
import { startSession } from "../domain/sessions.ts";
import { requireNotSuspended } from "../domain/suspension.ts";
import { clientIp } from "./client-ip.ts";

export function createSession(ctx: IdentityContext): Pick<ServiceImpl<typeof IdentityService>, "createSession"> {
  const { rt, errors, throttle } = ctx;
  return {
    async createSession(req, handler) {
      const login = normalizeLogin(req.login);
      const ip = clientIp(handler);
      // Unknown logins take the same path as known ones: the throttle counts them, and
      // the dummy hash costs what a real verification costs.
      await throttle.reserve(login, ip);
      const creds = await ctx.store.credentialsByLogin(rt.db, login);
      const ok = await Bun.password.verify(req.password, creds?.passwordHash ?? ctx.dummyHash);
      if (!creds || !ok) throw errors.unauthenticated(ErrorReason.INVALID_CREDENTIALS, "wrong login or password");
      await throttle.succeeded(login, ip);
      await requireNotSuspended(ctx, rt.db, creds.userId);
      return startSession(ctx, creds.userId, creds.handle);
    },
  };
}
