/**
 * Session use cases shared by the sign-in routes: minting the token pair of a session
 * and starting a new one (row and session_created event in one transaction).
 */
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { SessionCreatedSchema } from "#gen/oasis/identity/v1/events_pb.ts";
import type { CreateSessionResponse } from "#gen/oasis/identity/v1/identity_service_pb.ts";
import type { IdentityContext } from "../context.ts";
import { newRefreshToken } from "../tokens.ts";
import { rolesOf } from "./roles.ts";
import { refreshExpiry } from "./rules.ts";

/** Bun.password options for account passwords: argon2id, memory from config (KiB), 2 passes. */
export function hashOptions(ctx: IdentityContext) {
  return { algorithm: "argon2id", memoryCost: ctx.config.passwordMemoryKib, timeCost: 2 } as const;
}

/** The session's access token (signed now, with the account's roles) and the given refresh token. */
export async function issueSession(ctx: IdentityContext, userId: bigint, handle: string, sessionId: bigint, refreshToken: string, refreshExpiresAt: Date) {
  const access = await ctx.keys.sign({ userId, sessionId, handle, roles: await rolesOf(ctx, userId, handle) }, ctx.config.accessTtlSeconds);
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
export async function startSession(ctx: IdentityContext, userId: bigint, handle: string) {
  const { rt, config } = ctx;
  const sessionId = rt.ids.next();
  const refresh = newRefreshToken(sessionId);
  const now = new Date();
  const refreshExpiresAt = refreshExpiry(now, now, config);
  await rt.tx(async (tx) => {
    await ctx.store.insertSession(tx, { sessionId, userId, refreshHash: refresh.hash, expiresAt: refreshExpiresAt, now });
    await rt.outbox.add(tx, SessionCreatedSchema, { userId, sessionId, createTime: timestampFromDate(now) });
  });
  return issueSession(ctx, userId, handle, sessionId, refresh.token, refreshExpiresAt);
}

/** Sessions whose access tokens may still be live had their refresh expire after this. */
export function liveSince(ctx: IdentityContext): Date {
  return new Date(Date.now() - ctx.config.accessTtlSeconds * 1000);
}
