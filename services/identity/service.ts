/**
 * IdentityService: the route modules merged (one file per RPC under routes/). Rules and
 * use cases live in domain/, SQL in store.ts (domain/model.ts declares what it needs).
 */
import type { ServiceImpl } from "@connectrpc/connect";
import type { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import type { IdentityContext } from "./context.ts";
import { batchGetProfiles } from "./routes/batch-get-profiles.ts";
import { changePassword } from "./routes/change-password.ts";
import { createAccount } from "./routes/create-account.ts";
import { createSession } from "./routes/create-session.ts";
import { getAccountStatus } from "./routes/get-account-status.ts";
import { getProfile } from "./routes/get-profile.ts";
import { getRoles } from "./routes/get-roles.ts";
import { grantRole } from "./routes/grant-role.ts";
import { listUserIds } from "./routes/list-user-ids.ts";
import { refreshSession } from "./routes/refresh-session.ts";
import { revokeAllSessions } from "./routes/revoke-all-sessions.ts";
import { revokeRole } from "./routes/revoke-role.ts";
import { revokeSession } from "./routes/revoke-session.ts";
import { rotateSigningKey } from "./routes/rotate-signing-key.ts";
import { setEdgeRateLimits } from "./routes/set-edge-rate-limits.ts";
import { updateProfile } from "./routes/update-profile.ts";

export function identityService(ctx: IdentityContext): ServiceImpl<typeof IdentityService> {
  return {
    ...grantRole(ctx),
    ...revokeRole(ctx),
    ...getRoles(ctx),
    ...getAccountStatus(ctx),
    ...createAccount(ctx),
    ...createSession(ctx),
    ...refreshSession(ctx),
    ...revokeSession(ctx),
    ...revokeAllSessions(ctx),
    ...changePassword(ctx),
    ...rotateSigningKey(ctx),
    ...setEdgeRateLimits(ctx),
    ...getProfile(ctx),
    ...batchGetProfiles(ctx),
    ...updateProfile(ctx),
    ...listUserIds(ctx),
  };
}
