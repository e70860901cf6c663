/**
 * Bearer tokens at the edge: EdDSA JWTs issued by identity, verified with identity's
 * public keys (JWKS, fetched and cached by jose). The edge never calls identity per
 * request; whether the token's session was revoked is asked of Redis in the same call
 * as the rate limits (rate-limit.ts). Verified tokens are remembered until they expire (bounded LRU), which turns
 * the ~60 us signature check into a map lookup for the app's repeated calls.
 */
import { createRemoteJWKSet, jwtVerify } from "jose";
import { Code, ConnectError } from "@connectrpc/connect";

export interface VerifiedUser {
  readonly userId: bigint;
  /** The session (`sid` claim) the token belongs to: what revocation names. */
  readonly sessionId: string;
  readonly expiresAtMs: number;
  /** Roles granted by identity (`roles` claim), e.g. "admin". */
  readonly roles: readonly string[];
}

export interface TokenVerifier {
  /**
   * The user of an `Authorization` header value; null when there is none. Throws
   * `unauthenticated` for anything else than a valid, unexpired `Bearer <jwt>`.
   */
  verify(authorization: string | null): Promise<VerifiedUser | null>;
  /**
   * `verify`'s answer when it needs no waiting (no header: null; a token verified before
   * and not expired: its user), without a promise; undefined: ask `verify`.
   */
  known?(authorization: string | null): VerifiedUser | null | undefined;
}

export interface VerifierOptions {
  readonly jwksUrl: string;
  readonly issuer: string;
  readonly audience: string;
  /** Verified tokens kept. 50k * ~400 bytes = ~20 MB at most. */
  readonly cacheSize?: number;
  /** Least time between JWKS fetches for unknown key ids, ms (identity's key publish delay must exceed it). */
  readonly jwksCooldownMs?: number;
}

export function createTokenVerifier(opts: VerifierOptions): TokenVerifier {
  const jwks = createRemoteJWKSet(new URL(opts.jwksUrl), { cooldownDuration: opts.jwksCooldownMs ?? 30_000, cacheMaxAge: 300_000 });
  const cache = new Map<string, VerifiedUser>();
  const cacheSize = opts.cacheSize ?? 50_000;
  const reject = (why: string) => new ConnectError(`invalid bearer token: ${why}`, Code.Unauthenticated);
  const bearer = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/i;
  return {
    known(authorization) {
      if (authorization === null || authorization === "") return null;
      const token = bearer.exec(authorization.trim())?.[1];
      const hit = token === undefined ? undefined : cache.get(token);
      return hit && hit.expiresAtMs > Date.now() ? hit : undefined;
    },
    async verify(authorization) {
      if (authorization === null || authorization === "") return null;
      const m = bearer.exec(authorization.trim());
      if (!m) throw reject("expected `Authorization: Bearer <token>`");
      const token = m[1]!;
      const hit = cache.get(token);
      if (hit) {
        if (hit.expiresAtMs > Date.now()) return hit;
        cache.delete(token);
        throw reject("expired");
      }
      let payload;
      try {
        ({ payload } = await jwtVerify(token, jwks, { issuer: opts.issuer, audience: opts.audience, algorithms: ["EdDSA"] }));
      } catch (err) {
        throw reject((err as { code?: string }).code === "ERR_JWT_EXPIRED" ? "expired" : "signature or claims do not verify");
      }
      if (typeof payload.sub !== "string" || !/^[1-9][0-9]{0,18}$/.test(payload.sub) || typeof payload.exp !== "number") {
        throw reject("missing subject");
      }
      const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is string => typeof r === "string") : [];
      const user = { userId: BigInt(payload.sub), sessionId: String(payload.sid ?? ""), expiresAtMs: payload.exp * 1000, roles };
      if (cache.size >= cacheSize) cache.delete(cache.keys().next().value!);
      cache.set(token, user);
      return user;
    },
  };
}
