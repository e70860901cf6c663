/**
 * Identity's rules, free of transport and SQL: how handles and e-mails are normalised,
 * which profile fields an update may touch, who may read a private profile, and how the
 * login throttle counts.
 */
import type { FieldViolation } from "#kit/errors.ts";
import type { Profile, ProfileField } from "#gen/oasis/identity/v1/profile_pb.ts";
import type { ProfileChanges } from "./model.ts";

export type { ProfileChanges };

/** Handles are unique case-insensitively: store and compare the lowercase form. */
export function normalizeHandle(handle: string): string {
  return handle.toLowerCase();
}

/**
 * E-mail addresses are compared lowercase. (RFC 5321 allows a case-sensitive local part,
 * but no mainstream provider uses one, and treating `A@x` and `a@x` as two accounts
 * invites takeover confusion.)
 */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** Login is by e-mail when it contains "@", else by handle. */
export function normalizeLogin(login: string): string {
  return login.includes("@") ? normalizeEmail(login) : normalizeHandle(login.trim());
}

/** Profile fields UpdateProfile may change (update_mask paths, proto names). */
export const updatableProfileFields = ["display_name", "bio", "avatar_media_id", "fields", "private"] as const;

export type MaskResult = { ok: true; changes: ProfileChanges } | { ok: false; violations: FieldViolation[]; notUpdatable: boolean };

/** Turns an update_mask and the new values into column changes, or says what is wrong. */
export function changesFromMask(paths: readonly string[], profile: Profile): MaskResult {
  const violations: FieldViolation[] = [];
  if (paths.length === 0) violations.push({ field: "update_mask", description: "must name at least one field" });
  const bad = paths.filter((p) => !(updatableProfileFields as readonly string[]).includes(p));
  for (const p of bad) {
    violations.push({ field: "update_mask", description: `"${p}" cannot be updated; allowed: ${updatableProfileFields.join(", ")}` });
  }
  if (violations.length) return { ok: false, violations, notUpdatable: bad.length > 0 };
  const changes: ProfileChanges = {};
  for (const p of new Set(paths)) {
    if (p === "display_name") changes.displayName = profile.displayName;
    if (p === "bio") changes.bio = profile.bio;
    if (p === "avatar_media_id") changes.avatarMediaId = profile.avatarMediaId;
    if (p === "fields") changes.fields = profile.fields;
    if (p === "private") changes.private = profile.private;
  }
  return { ok: true, changes };
}

/** Indexes of profile fields whose key repeats an earlier one. */
export function duplicateFieldKeys(fields: readonly ProfileField[]): number[] {
  const seen = new Set<string>();
  const dups: number[] = [];
  fields.forEach((f, i) => {
    const k = f.key.trim().toLowerCase();
    if (seen.has(k)) dups.push(i);
    seen.add(k);
  });
  return dups;
}

export { canReadProfile, needsRelation, presentProfile, type ViewerRelation } from "../../../shared-rules/profile-visibility.ts";

/** Buckets an avatar may come from (media's bucket names). */
export const avatarBuckets: readonly string[] = ["avatars", "post-images"];

/**
 * When a session's refresh token expires if refreshed at `now`: the sliding refresh
 * lifetime, capped by the absolute session lifetime counted from `createdAt`.
 */
export function refreshExpiry(now: Date, createdAt: Date, c: { refreshTtlSeconds: number; sessionMaxSeconds: number }): Date {
  return new Date(Math.min(now.getTime() + c.refreshTtlSeconds * 1000, createdAt.getTime() + c.sessionMaxSeconds * 1000));
}

/** Route classes of the edge's rate limits (edge/rate-limit.ts). */
export const routeClasses = ["auth", "read", "write", "upload", "stream"] as const;

interface LimitIn {
  readonly limit: bigint;
  readonly periodSeconds: number;
}

/** The JSON the edge reads from its override key: per class, perUser/perIp limits. */
export type LimitOverrides = Record<string, { perUser?: { limit: number; periodSeconds: number }; perIp?: { limit: number; periodSeconds: number } }>;

/**
 * Turns SetEdgeRateLimits' request into the edge's override JSON; null means "remove
 * the override". Each class at most once; a TTL is required with limits.
 */
export function overridesFromRequest(
  limits: ReadonlyArray<{ routeClass: string; perUser?: LimitIn; perIp?: LimitIn }>,
  ttlSeconds: number,
): { ok: true; overrides: LimitOverrides | null } | { ok: false; violations: FieldViolation[] } {
  if (limits.length === 0) return { ok: true, overrides: null };
  const violations: FieldViolation[] = [];
  if (ttlSeconds <= 0) violations.push({ field: "ttl_seconds", description: "must be 1-86400 when limits are given" });
  const out: LimitOverrides = {};
  limits.forEach((l, i) => {
    if (out[l.routeClass]) violations.push({ field: `limits[${i}].route_class`, description: `"${l.routeClass}" appears twice` });
    const conv = (x: LimitIn | undefined) => (x ? { limit: Number(x.limit), periodSeconds: x.periodSeconds } : undefined);
    out[l.routeClass] = { ...(l.perUser ? { perUser: conv(l.perUser) } : {}), ...(l.perIp ? { perIp: conv(l.perIp) } : {}) };
  });
  return violations.length ? { ok: false, violations } : { ok: true, overrides: out };
}
