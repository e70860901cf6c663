/**
 * RevokeSession: signs out the session of a refresh token (current or rotated out); its
 * access tokens go on the edge's revocation list. UNAUTHENTICATED REFRESH_TOKEN_INVALID.
 */
import type { ServiceImpl } from "@connectrpc/connect";
import { ErrorReason } from "#gen/oasis/identity/v1/errors_pb.ts";
import type { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import type { IdentityContext } from "../context.ts";
import { revokeSessions } from "../revocation.ts";
import { parseRefreshToken, sameHash } from "../tokens.ts";

export function revokeSession(ctx: IdentityContext): Pick<ServiceImpl<typeof IdentityService>, "revokeSession"> {
  const { rt, errors, store } = ctx;
  return {
    async revokeSession(req) {
      const parsed = parseRefreshToken(req.refreshToken);
      const known = parsed
        ? await rt.tx(async (tx) => {
            const s = await store.sessionForUpdate(tx, parsed.sessionId);
            if (!s) return false;
            if (!sameHash(s.refreshHash, parsed.hash) && !(await store.wasRotatedOut(tx, s.sessionId, parsed.hash))) return false;
            await store.revokeSessionRow(tx, s.sessionId, new Date());
            return true;
          })
        : false;
      if (!known) throw errors.unauthenticated(ErrorReason.REFRESH_TOKEN_INVALID, "refresh token is not valid");
      await revokeSessions(ctx, [parsed!.sessionId]);
      return {};
    },
  };
}
