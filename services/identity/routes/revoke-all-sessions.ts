/** RevokeAllSessions: signs the caller out everywhere; returns how many live sessions were revoked. */
import type { ServiceImpl } from "@connectrpc/connect";
import { currentCaller } from "#kit/call-context.ts";
import type { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import type { IdentityContext } from "../context.ts";
import { liveSince } from "../domain/sessions.ts";
import { revokeSessions } from "../revocation.ts";

export function revokeAllSessions(ctx: IdentityContext): Pick<ServiceImpl<typeof IdentityService>, "revokeAllSessions"> {
  return {
    async revokeAllSessions() {
      const me = currentCaller().userId!;
      const ids = await ctx.rt.tx((tx) => ctx.store.revokeUserSessions(tx, me, liveSince(ctx), new Date()));
      await revokeSessions(ctx, ids);
      return { revokedCount: ids.length };
    },
  };
}
