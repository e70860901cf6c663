/**
 * ACCESS_MODERATOR and ACCESS_ADMIN, checked again by moderation (the edge checked the
 * token's roles; a call from inside the mesh has none): the caller's roles are asked of
 * identity.GetRoles as the service; held roles are reused for `ttlMs` (default 2 s),
 * so a revoked moderator is refused within that and a new one is let in at once.
 */
import type { Client } from "@connectrpc/connect";
import { currentCaller } from "#kit/call-context.ts";
import { asService } from "#kit/client.ts";
import type { IdentityService } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { ErrorReason } from "#gen/oasis/moderation/v1/errors_pb.ts";
import { errors } from "./errors.ts";

export class RoleCache {
  private readonly cache = new Map<bigint, { roles: readonly string[]; untilMs: number }>();

  constructor(
    private readonly identity: Client<typeof IdentityService>,
    private readonly ttlMs: number,
  ) {}

  /** The roles of `userId` now (at most `ttlMs` old). */
  async of(userId: bigint): Promise<readonly string[]> {
    const hit = this.cache.get(userId);
    if (hit && hit.untilMs > Date.now()) return hit.roles;
    const { roles } = await this.identity.getRoles({ userId }, asService());
    // Only held roles are reused: a grant counts at once, a revocation within ttlMs.
    if (this.cache.size > 10_000) this.cache.clear();
    if (roles.length) this.cache.set(userId, { roles, untilMs: Date.now() + this.ttlMs });
    return roles;
  }
}

/** The caller's id; PERMISSION_DENIED NOT_MODERATOR unless they hold "moderator" or "admin". */
export async function requireModerator(roles: RoleCache): Promise<bigint> {
  const me = currentCaller().userId!;
  const held = await roles.of(me);
  if (!held.includes("moderator") && !held.includes("admin")) {
    throw errors.permissionDenied(ErrorReason.NOT_MODERATOR, "only a moderator may do this");
  }
  return me;
}

/** Whether the caller holds "admin". */
export async function isAdmin(roles: RoleCache, userId: bigint): Promise<boolean> {
  return (await roles.of(userId)).includes("admin");
}
