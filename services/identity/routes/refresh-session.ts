/**
 * RefreshSession: rotates the refresh token (sliding, capped by the session's absolute
 * lifetime) and mints a new access token. UNAUTHENTICATED REFRESH_TOKEN_INVALID;
 * REFRESH_TOKEN_REUSED when a rotated-out token comes back (the session is revoked);
 * PERMISSION_DENIED ACCOUNT_SUSPENDED.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import { ErrorReason } from "#gen/oasis/identity/v1/errors_pb.ts";
import type { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import type { IdentityContext } from "../context.ts";
import { refreshExpiry } from "../domain/rules.ts";
import { issueSession } from "../domain/sessions.ts";
import { requireNotSuspended } from "../domain/suspension.ts";
import { revokeSessions } from "../revocation.ts";
import { newRefreshToken, parseRefreshToken, sameHash } from "../tokens.ts";

export function refreshSession(ctx: IdentityContext): Pick<ServiceImpl<typeof IdentityService>, "refreshSession"> {
  const { rt, config, errors, store } = ctx;
  return {
    async refreshSession(req) {
      const invalid = () => errors.unauthenticated(ErrorReason.REFRESH_TOKEN_INVALID, "refresh token is not valid");
      const parsed = parseRefreshToken(req.refreshToken);
      if (!parsed) throw invalid();
      const now = new Date();
      const outcome = await rt.tx(async (tx) => {
        const s = await store.sessionForUpdate(tx, parsed.sessionId);
        if (!s || s.revokedAt || s.expiresAt <= now) return { kind: "invalid" as const };
        if (!sameHash(s.refreshHash, parsed.hash)) {
          if (!(await store.wasRotatedOut(tx, s.sessionId, parsed.hash))) return { kind: "invalid" as const };
          // A rotated-out token came back: someone holds a copy. Revoke the session
          // (commit it) so neither party can continue.
          await store.revokeSessionRow(tx, s.sessionId, now);
          return { kind: "reused" as const };
        }
        const next = newRefreshToken(s.sessionId);
        // Sliding, but never past the session's absolute lifetime.
        const expiresAt = refreshExpiry(now, s.createdAt, config);
        await store.rotateSession(tx, { sessionId: s.sessionId, oldHash: s.refreshHash, newHash: next.hash, expiresAt, now });
        const profile = await store.profileById(tx, s.userId);
        return { kind: "ok" as const, userId: s.userId, handle: profile?.handle ?? "", token: next.token, expiresAt };
      });
      if (outcome.kind === "invalid") throw invalid();
      if (outcome.kind === "ok") await requireNotSuspended(ctx, rt.db, outcome.userId);
      if (outcome.kind === "reused") {
        await revokeSessions(ctx, [parsed.sessionId]);
        throw errors.unauthenticated(ErrorReason.REFRESH_TOKEN_REUSED, "refresh token was already used; the session is revoked, sign in again");
      }
      return issueSession(ctx, outcome.userId, outcome.handle, parsed.sessionId, outcome.token, outcome.expiresAt);
    },
  };
}
