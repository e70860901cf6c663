/**
 * IdentityService handlers: map requests to the domain and store, and results back to
 * proto. Rules live in domain.ts, SQL in store.ts.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import { currentCall, anonymous } from "#kit/call-context.ts";
import { fingerprint, idempotent, storedResponse } from "#kit/idempotency.ts";
import { isDuplicateKey } from "#kit/mysql.ts";
import { decodePageToken, encodePageToken, pageSize } from "#kit/page-token.ts";
import { ErrorReason } from "#gen/oasis/identity/v1/errors_pb.ts";
import { AccountCreatedSchema, ProfileUpdatedSchema } from "#gen/oasis/identity/v1/events_pb.ts";
import {
  CreateAccountRequestSchema,
  CreateAccountResponseSchema,
  IdentityService,
  type CreateSessionResponse,
} from "#gen/oasis/identity/v1/identity_service_pb.ts";
import type { Profile } from "#gen/oasis/identity/v1/profile_pb.ts";
import type { IdentityContext } from "./context.ts";
import {
  canReadProfile,
  changesFromMask,
  duplicateFieldKeys,
  normalizeEmail,
  normalizeHandle,
  normalizeLogin,
} from "./domain.ts";
import {
  credentialsByLogin,
  insertAccount,
  insertSession,
  profileByHandle,
  profileById,
  revokeSessionRow,
  rotateSession,
  sessionForUpdate,
  updateProfileRow,
  userIdsAfter,
  wasRotatedOut,
} from "./store.ts";
import { newRefreshToken, parseRefreshToken, sameHash } from "./tokens.ts";

function caller() {
  return currentCall()?.caller ?? anonymous;
}

export function identityService(ctx: IdentityContext): ServiceImpl<typeof IdentityService> {
  const { rt, config, errors } = ctx;
  const hashOptions = { algorithm: "argon2id", memoryCost: config.passwordMemoryKib, timeCost: 2 } as const;

  /** Reserves one login attempt for the account; throws LOGIN_THROTTLED past the limit. */
  async function reserveLoginAttempt(userId: bigint): Promise<void> {
    const key = `login_failures:${userId}`;
    const attempts = await rt.redis.incr(key);
    if (attempts === 1) await rt.redis.expire(key, config.loginWindowSeconds);
    if (attempts > config.loginMaxFailures) {
      const ttlSeconds = Math.max(1, await rt.redis.ttl(key));
      throw errors.exhausted(ErrorReason.LOGIN_THROTTLED, "too many failed sign-in attempts; try again later", ttlSeconds * 1000);
    }
  }

  async function issueSession(userId: bigint, handle: string, sessionId: bigint, refreshToken: string, refreshExpiresAt: Date) {
    const access = await ctx.keys.sign({ userId, sessionId, handle }, config.accessTtlSeconds);
    return {
      accessToken: access.token,
      refreshToken,
      userId,
      expiresAt: timestampFromDate(access.expiresAt),
      refreshExpiresAt: timestampFromDate(refreshExpiresAt),
    } satisfies Omit<CreateSessionResponse, "$typeName" | "expiresAt" | "refreshExpiresAt"> & Record<string, unknown>;
  }

  function readable(profile: Profile | undefined, lookup: string): Profile {
    if (!profile) throw errors.notFound(ErrorReason.ACCOUNT_NOT_FOUND, `no account ${lookup}`, { lookup });
    if (!canReadProfile(profile, caller())) {
      throw errors.unauthenticated(ErrorReason.PROFILE_PRIVATE, "this account is private; sign in to see it", {
        user_id: profile.userId,
      });
    }
    return profile;
  }

  return {
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
              throw errors.alreadyExists(ErrorReason.EMAIL_TAKEN, "e-mail address is already registered");
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

    async createSession(req) {
      const creds = await credentialsByLogin(rt.db, normalizeLogin(req.login));
      if (creds) await reserveLoginAttempt(creds.userId);
      const ok = creds
        ? await Bun.password.verify(req.password, creds.passwordHash)
        : (await Bun.password.verify(req.password, ctx.dummyHash), false);
      if (!creds || !ok) throw errors.unauthenticated(ErrorReason.INVALID_CREDENTIALS, "wrong login or password");
      await rt.redis.del(`login_failures:${creds.userId}`);
      const sessionId = rt.ids.next();
      const refresh = newRefreshToken(sessionId);
      const now = new Date();
      const refreshExpiresAt = new Date(now.getTime() + config.refreshTtlSeconds * 1000);
      await rt.tx((tx) => insertSession(tx, { sessionId, userId: creds.userId, refreshHash: refresh.hash, expiresAt: refreshExpiresAt, now }));
      return issueSession(creds.userId, creds.handle, sessionId, refresh.token, refreshExpiresAt);
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
        const expiresAt = new Date(now.getTime() + config.refreshTtlSeconds * 1000);
        await rotateSession(tx, { sessionId: s.sessionId, oldHash: s.refreshHash, newHash: next.hash, expiresAt, now });
        const profile = await profileById(tx, s.userId);
        return { kind: "ok" as const, userId: s.userId, handle: profile?.handle ?? "", token: next.token, expiresAt };
      });
      if (outcome.kind === "invalid") throw invalid();
      if (outcome.kind === "reused") {
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
      return {};
    },

    async getProfile(req) {
      const l = req.lookup;
      const profile =
        l.case === "userId"
          ? readable((await ctx.profiles.get([l.value])).get(l.value), String(l.value))
          : readable(await profileByHandle(rt.db, normalizeHandle(l.value ?? "")), String(l.value));
      return { profile };
    },

    async batchGetProfiles(req) {
      const order = [...new Set(req.userIds)];
      const found = await ctx.profiles.get(order);
      const who = caller();
      const profiles = order.map((id) => found.get(id)).filter((p): p is Profile => !!p && canReadProfile(p, who));
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
