/**
 * IdentityService handlers: map requests to the domain and store, and results back to
 * proto. Rules live in domain.ts, SQL in store.ts.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { clientIpHeader, currentCaller } from "#kit/call-context.ts";
import { isOperator } from "#kit/auth.ts";
import { fingerprint, idempotent, storedResponse } from "#kit/idempotency.ts";
import { rateLimitOverridesKey } from "#kit/edge-keys.ts";
import { isDuplicateKey } from "#kit/mysql.ts";
import { decodePageToken, encodePageToken, pageSize } from "#kit/page-token.ts";
import { ErrorReason } from "#gen/oasis/identity/v1/errors_pb.ts";
import { AccountCreatedSchema, ProfileUpdatedSchema, SessionCreatedSchema, SignUpEmailInUseSchema } from "#gen/oasis/identity/v1/events_pb.ts";
import {
  CreateAccountRequestSchema,
  CreateAccountResponseSchema,
  IdentityService,
  type CreateSessionResponse,
} from "#gen/oasis/identity/v1/identity_service_pb.ts";
import { createLoginThrottle } from "./login-throttle.ts";
import { revokeSessions } from "./revocation.ts";
import { requireAdmin as requireAdminRole, roleRoutes, rolesOf } from "./roles.ts";
import { requireNotSuspended, statusRoutes } from "./suspension.ts";
import type { Profile } from "#gen/oasis/identity/v1/profile_pb.ts";
import type { IdentityContext } from "./context.ts";
import {
  canReadProfile,
  changesFromMask,
  duplicateFieldKeys,
  normalizeEmail,
  normalizeHandle,
  needsRelation,
  normalizeLogin,
  overridesFromRequest,
  presentProfile,
  avatarBuckets,
  refreshExpiry,
} from "./domain.ts";
import {
  credentialsByLogin,
  insertAccount,
  insertSession,
  passwordHashOf,
  profileByHandle,
  profileById,
  revokeSessionRow,
  revokeUserSessions,
  rotateSession,
  sessionForUpdate,
  updatePasswordHash,
  updateProfileRow,
  userIdsAfter,
  wasRotatedOut,
} from "./store.ts";
import { newRefreshToken, parseRefreshToken, sameHash } from "./tokens.ts";

function caller() {
  return currentCaller();
}

export function identityService(ctx: IdentityContext): ServiceImpl<typeof IdentityService> {
  const { rt, config, errors } = ctx;
  const hashOptions = { algorithm: "argon2id", memoryCost: config.passwordMemoryKib, timeCost: 2 } as const;

  const throttle = createLoginThrottle(rt.redis, config, (retryMs) =>
    errors.exhausted(ErrorReason.LOGIN_THROTTLED, "too many failed sign-in attempts; try again later", retryMs),
  );

  /**
   * The end user's IP as the edge saw it. Trusted only on calls with a valid mesh
   * credential (the edge sets it); a call without one is throttled as one "direct" client.
   */
  function clientIp(handler: HandlerContext): string {
    const ip = caller().fromMesh ? handler.requestHeader.get(clientIpHeader) : null;
    return ip && ip.length <= 64 ? ip : "direct";
  }

  /** Throws NOT_ADMIN unless the caller's account is an admin (the edge checked the token's role too). */
  const requireAdmin = () => requireAdminRole(ctx);

  async function issueSession(userId: bigint, handle: string, sessionId: bigint, refreshToken: string, refreshExpiresAt: Date) {
    const access = await ctx.keys.sign({ userId, sessionId, handle, roles: await rolesOf(ctx, userId, handle) }, config.accessTtlSeconds);
    return {
      accessToken: access.token,
      refreshToken,
      userId,
      expiresAt: timestampFromDate(access.expiresAt),
      refreshExpiresAt: timestampFromDate(refreshExpiresAt),
    } satisfies Omit<CreateSessionResponse, "$typeName" | "expiresAt" | "refreshExpiresAt"> & Record<string, unknown>;
  }

  /**
   * Starts a session for an authenticated user; returns its tokens. The session row and
   * its session_created event commit together (outbox), so consumers (wallet's daily
   * sign-in drops) see each session exactly once.
   */
  async function startSession(userId: bigint, handle: string) {
    const sessionId = rt.ids.next();
    const refresh = newRefreshToken(sessionId);
    const now = new Date();
    const refreshExpiresAt = refreshExpiry(now, now, config);
    await rt.tx(async (tx) => {
      await insertSession(tx, { sessionId, userId, refreshHash: refresh.hash, expiresAt: refreshExpiresAt, now });
      await rt.outbox.add(tx, SessionCreatedSchema, { userId, sessionId, createTime: timestampFromDate(now) });
    });
    return issueSession(userId, handle, sessionId, refresh.token, refreshExpiresAt);
  }

  /** Sessions whose access tokens may still be live had their refresh expire after this. */
  const liveSince = () => new Date(Date.now() - config.accessTtlSeconds * 1000);

  /** The profile as the caller may see it; NOT_FOUND when missing or hidden by a block. */
  async function readable(profile: Profile | undefined, lookup: string): Promise<Profile> {
    const notFound = () => errors.notFound(ErrorReason.ACCOUNT_NOT_FOUND, `no account ${lookup}`, { lookup });
    if (!profile) throw notFound();
    const who = caller();
    if (!canReadProfile(profile, who)) {
      throw errors.unauthenticated(ErrorReason.PROFILE_PRIVATE, "this account is private; sign in to see it", {
        user_id: profile.userId,
      });
    }
    if (!needsRelation(profile, who)) return profile;
    // As the viewer (the kit forwards the caller): fails closed if graph cannot answer.
    const { relationship } = await ctx.graph().getRelationship({ userId: profile.userId });
    const shown = presentProfile(profile, relationship);
    if (!shown) throw notFound();
    return shown;
  }

  /** Throws AVATAR_NOT_OWNED unless `mediaId` is the caller's upload in an avatar bucket. */
  async function requireOwnAvatar(me: bigint, mediaId: bigint): Promise<void> {
    const { media } = await ctx.media().batchGetMedia({ mediaIds: [mediaId] });
    const m = media[0];
    if (!m || m.ownerId !== me || !avatarBuckets.includes(m.bucket)) {
      throw errors.invalid(ErrorReason.AVATAR_NOT_OWNED, [
        { field: "profile.avatar_media_id", description: `must be an image you uploaded to ${avatarBuckets.join(" or ")}` },
      ]);
    }
  }

  return {
    ...roleRoutes(ctx),
    ...statusRoutes(ctx),

    async createAccount(req) {
      const handle = normalizeHandle(req.handle);
      const email = normalizeEmail(req.email);
      // The password is not part of the fingerprint: request_log must never hold a fast
      // hash of it. A retry with another password replays the first result.
      const print = fingerprint(CreateAccountRequestSchema, create(CreateAccountRequestSchema, { ...req, password: "" }));
      const key = { scope: "CreateAccount", callerId: null, requestId: req.requestId };
      const replay = await storedResponse(rt.db, key, print, CreateAccountResponseSchema);
      if (replay) return replay;
      const passwordHash = await Bun.password.hash(req.password, hashOptions);
      const { response } = await rt.tx((tx) =>
        idempotent(tx, key, print, CreateAccountResponseSchema, async () => {
          const userId = rt.ids.next();
          const now = new Date();
          const displayName = req.displayName || handle;
          try {
            await insertAccount(tx, { userId, handle, email, passwordHash, displayName, now });
          } catch (err) {
            if (isDuplicateKey(err, "accounts_handle")) {
              throw errors.alreadyExists(ErrorReason.HANDLE_TAKEN, `handle "${handle}" is taken`, { handle });
            }
            if (isDuplicateKey(err, "accounts_email")) {
              // Answer like a success, so sign-up tells nobody which addresses are
              // registered; the owner hears of the attempt out of band.
              const owner = await credentialsByLogin(tx, email);
              if (owner) await rt.outbox.add(tx, SignUpEmailInUseSchema, { userId: owner.userId, email, attemptedHandle: handle });
              return create(CreateAccountResponseSchema, { account: { userId, handle, email, createTime: timestampFromDate(now) } });
            }
            throw err;
          }
          const profile = (await profileById(tx, userId))!;
          await rt.outbox.add(tx, AccountCreatedSchema, { userId, handle, profile });
          return create(CreateAccountResponseSchema, {
            account: { userId, handle, email, createTime: timestampFromDate(now) },
          });
        }),
      );
      return response;
    },

    async createSession(req, handler) {
      const login = normalizeLogin(req.login);
      const ip = clientIp(handler);
      // Unknown logins take the same path as known ones: the throttle counts them, and
      // the dummy hash costs what a real verification costs.
      await throttle.reserve(login, ip);
      const creds = await credentialsByLogin(rt.db, login);
      const ok = await Bun.password.verify(req.password, creds?.passwordHash ?? ctx.dummyHash);
      if (!creds || !ok) throw errors.unauthenticated(ErrorReason.INVALID_CREDENTIALS, "wrong login or password");
      await throttle.succeeded(login, ip);
      await requireNotSuspended(ctx, rt.db, creds.userId);
      return startSession(creds.userId, creds.handle);
    },

    async refreshSession(req) {
      const invalid = () => errors.unauthenticated(ErrorReason.REFRESH_TOKEN_INVALID, "refresh token is not valid");
      const parsed = parseRefreshToken(req.refreshToken);
      if (!parsed) throw invalid();
      const now = new Date();
      const outcome = await rt.tx(async (tx) => {
        const s = await sessionForUpdate(tx, parsed.sessionId);
        if (!s || s.revokedAt || s.expiresAt <= now) return { kind: "invalid" as const };
        if (!sameHash(s.refreshHash, parsed.hash)) {
          if (!(await wasRotatedOut(tx, s.sessionId, parsed.hash))) return { kind: "invalid" as const };
          // A rotated-out token came back: someone holds a copy. Revoke the session
          // (commit it) so neither party can continue.
          await revokeSessionRow(tx, s.sessionId, now);
          return { kind: "reused" as const };
        }
        const next = newRefreshToken(s.sessionId);
        // Sliding, but never past the session's absolute lifetime.
        const expiresAt = refreshExpiry(now, s.createdAt, config);
        await rotateSession(tx, { sessionId: s.sessionId, oldHash: s.refreshHash, newHash: next.hash, expiresAt, now });
        const profile = await profileById(tx, s.userId);
        return { kind: "ok" as const, userId: s.userId, handle: profile?.handle ?? "", token: next.token, expiresAt };
      });
      if (outcome.kind === "invalid") throw invalid();
      if (outcome.kind === "ok") await requireNotSuspended(ctx, rt.db, outcome.userId);
      if (outcome.kind === "reused") {
        await revokeSessions(ctx, [parsed.sessionId]);
        throw errors.unauthenticated(ErrorReason.REFRESH_TOKEN_REUSED, "refresh token was already used; the session is revoked, sign in again");
      }
      return issueSession(outcome.userId, outcome.handle, parsed.sessionId, outcome.token, outcome.expiresAt);
    },

    async revokeSession(req) {
      const parsed = parseRefreshToken(req.refreshToken);
      const known = parsed
        ? await rt.tx(async (tx) => {
            const s = await sessionForUpdate(tx, parsed.sessionId);
            if (!s) return false;
            if (!sameHash(s.refreshHash, parsed.hash) && !(await wasRotatedOut(tx, s.sessionId, parsed.hash))) return false;
            await revokeSessionRow(tx, s.sessionId, new Date());
            return true;
          })
        : false;
      if (!known) throw errors.unauthenticated(ErrorReason.REFRESH_TOKEN_INVALID, "refresh token is not valid");
      await revokeSessions(ctx, [parsed!.sessionId]);
      return {};
    },

    async revokeAllSessions() {
      const me = caller().userId!;
      const ids = await rt.tx((tx) => revokeUserSessions(tx, me, liveSince(), new Date()));
      await revokeSessions(ctx, ids);
      return { revokedCount: ids.length };
    },

    async changePassword(req, handler) {
      const me = caller().userId!;
      const login = `user:${me}`;
      const ip = clientIp(handler);
      await throttle.reserve(login, ip);
      const current = await passwordHashOf(rt.db, me);
      if (!current) throw errors.notFound(ErrorReason.ACCOUNT_NOT_FOUND, "account no longer exists");
      if (!(await Bun.password.verify(req.currentPassword, current))) {
        throw errors.unauthenticated(ErrorReason.WRONG_PASSWORD, "the current password is wrong");
      }
      await throttle.succeeded(login, ip);
      const hash = await Bun.password.hash(req.newPassword, hashOptions);
      const ids = await rt.tx(async (tx) => {
        const now = new Date();
        await passwordHashOf(tx, me, true);
        await updatePasswordHash(tx, me, hash, now);
        return revokeUserSessions(tx, me, liveSince(), now);
      });
      await revokeSessions(ctx, ids);
      const profile = (await ctx.profiles.get([me])).get(me);
      const session = await startSession(me, profile?.handle ?? "");
      return { ...session, revokedCount: ids.length };
    },

    async rotateSigningKey() {
      await requireAdmin();
      const { kid, signsFrom } = await ctx.keys.rotate();
      return { kid, signTime: timestampFromDate(signsFrom), publishedKids: ctx.keys.jwks().keys.map((k) => String(k.kid)) };
    },

    async setEdgeRateLimits(req) {
      await requireAdmin();
      const parsed = overridesFromRequest(req.limits, req.ttlSeconds);
      if (!parsed.ok) throw errors.invalid(ErrorReason.UNSPECIFIED, parsed.violations);
      if (parsed.overrides === null) {
        await ctx.edgeRedis.del(rateLimitOverridesKey);
        return {};
      }
      // Always with a TTL: a forgotten override (a killed bulk load) ends by itself.
      await ctx.edgeRedis.set(rateLimitOverridesKey, JSON.stringify(parsed.overrides), "EX", req.ttlSeconds);
      rt.log.warn({ overrides: parsed.overrides, ttl_seconds: req.ttlSeconds, by: isOperator(caller()) ? "operator" : String(caller().userId) }, "edge rate limits overridden");
      return { expireTime: timestampFromDate(new Date(Date.now() + req.ttlSeconds * 1000)) };
    },

    async getProfile(req) {
      const l = req.lookup;
      const profile =
        l.case === "userId"
          ? await readable((await ctx.profiles.get([l.value])).get(l.value), String(l.value))
          : await readable(await profileByHandle(rt.db, normalizeHandle(l.value ?? "")), String(l.value));
      return { profile };
    },

    async batchGetProfiles(req) {
      const order = [...new Set(req.userIds)];
      const found = await ctx.profiles.get(order);
      const who = caller();
      let profiles = order.map((id) => found.get(id)).filter((p): p is Profile => !!p && canReadProfile(p, who));
      // Private profiles need the viewer's relationship (follower: full; else the header;
      // blocked either way: left out). Public ones are returned as they are: batch readers
      // (feed hydration) apply block rules in their own rules step, and asking graph for
      // every author of every page would add a hop to the read path.
      const ask = profiles.filter((p) => p.private && needsRelation(p, who)).map((p) => p.userId);
      if (ask.length) {
        const { relationships } = await ctx.graph().batchGetRelationships({ userIds: ask });
        const rel = new Map(relationships.map((r) => [r.userId, r]));
        profiles = profiles.flatMap((p) => {
          if (!ask.includes(p.userId)) return [p];
          // No answer for an id: show the header only (never more than a non-follower sees).
          const shown = presentProfile(p, rel.get(p.userId) ?? { following: false, blocking: false, blockedBy: false });
          return shown ? [shown] : [];
        });
      }
      return { profiles };
    },

    async updateProfile(req) {
      const me = caller().userId!;
      const profile = req.profile!;
      if (profile.userId !== me) {
        throw errors.permissionDenied(ErrorReason.NOT_PROFILE_OWNER, "you can only update your own profile", { user_id: profile.userId });
      }
      const paths = req.updateMask?.paths ?? [];
      const mask = changesFromMask(paths, profile);
      if (!mask.ok) {
        throw errors.invalid(mask.notUpdatable ? ErrorReason.FIELD_NOT_UPDATABLE : ErrorReason.UNSPECIFIED, mask.violations);
      }
      if (mask.changes.fields) {
        const dups = duplicateFieldKeys(mask.changes.fields);
        if (dups.length) {
          throw errors.invalid(
            ErrorReason.DUPLICATE_FIELD_KEY,
            dups.map((i) => ({ field: `profile.fields[${i}].key`, description: "repeats the key of an earlier field" })),
          );
        }
      }
      if (mask.changes.avatarMediaId) await requireOwnAvatar(me, mask.changes.avatarMediaId);
      const updated = await rt.tx(async (tx) => {
        const current = await profileById(tx, me, true);
        if (!current) throw errors.notFound(ErrorReason.ACCOUNT_NOT_FOUND, "account no longer exists");
        await updateProfileRow(tx, me, mask.changes, new Date());
        const after = (await profileById(tx, me))!;
        await rt.outbox.add(tx, ProfileUpdatedSchema, { profile: after, updateMask: { paths: [...new Set(paths)] } });
        return after;
      });
      await ctx.profiles.invalidate(me);
      return { profile: updated };
    },

    async listUserIds(req) {
      const limit = pageSize(req.pageSize, 1000, 1000);
      const after = (decodePageToken("user-ids", req.pageToken)?.[0] as bigint | undefined) ?? 0n;
      const ids = await userIdsAfter(rt.db, after, limit + 1);
      const page = ids.slice(0, limit);
      return { userIds: page, nextPageToken: ids.length > limit ? encodePageToken("user-ids", [page.at(-1)!]) : "" };
    },
  };
}
