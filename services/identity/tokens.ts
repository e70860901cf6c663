/**
 * Access and refresh tokens.
 *
 * Access tokens are JWTs signed with Ed25519 (EdDSA, RFC 8037) via jose: small, fast to
 * verify, and verifiable by the edge with only the public key (JWKS, RFC 7517) - the
 * edge never calls identity per request. Refresh tokens are opaque
 * `<session id>.<32 random bytes, base64url>`; identity stores only the SHA-256 of
 * the secret part, so a database leak does not leak usable tokens.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { SignJWT, exportJWK, generateKeyPair, importJWK, type JWK, type CryptoKey } from "jose";
import { withTransaction, type Pool } from "#kit/mysql.ts";
import { activeSigningKeys, insertSigningKey } from "./store.ts";

export interface AccessClaims {
  readonly userId: bigint;
  readonly sessionId: bigint;
  readonly handle: string;
}

export interface SigningKeys {
  /** Signs an access token; returns it and its expiry. */
  sign(claims: AccessClaims, ttlSeconds: number): Promise<{ token: string; expiresAt: Date }>;
  /** The JWKS document (public keys only). */
  jwks(): { keys: JWK[] };
}

const alg = "EdDSA";

/**
 * Loads the signing keys, creating the first one if there is none. A MariaDB named
 * lock makes concurrently starting replicas agree on one key.
 */
export async function loadSigningKeys(db: Pool, opts: { issuer: string; audience: string }): Promise<SigningKeys> {
  let rows = await activeSigningKeys(db);
  if (rows.length === 0) {
    const conn = await db.getConnection();
    try {
      await conn.query("SELECT GET_LOCK('oasis_identity_signing_key', 10)");
      rows = await activeSigningKeys(conn);
      if (rows.length === 0) {
        const { publicKey, privateKey } = await generateKeyPair(alg, { crv: "Ed25519", extractable: true });
        const kid = `ed25519-${randomBytes(6).toString("hex")}`;
        const pub = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
        const priv = { ...(await exportJWK(privateKey)), kid, alg };
        await withTransaction(db, (tx) =>
          insertSigningKey(tx, { kid, privateJwk: JSON.stringify(priv), publicJwk: JSON.stringify(pub), createdAt: new Date() }),
        );
        rows = await activeSigningKeys(conn);
      }
    } finally {
      await conn.query("SELECT RELEASE_LOCK('oasis_identity_signing_key')").catch(() => {});
      conn.release();
    }
  }
  const current = rows[0]!;
  const privateKey = (await importJWK(JSON.parse(current.privateJwk) as JWK, alg)) as CryptoKey;
  const published = rows.map((r) => JSON.parse(r.publicJwk) as JWK);
  return {
    async sign(claims, ttlSeconds) {
      const nowSec = Math.floor(Date.now() / 1000);
      const exp = nowSec + ttlSeconds;
      const token = await new SignJWT({ sid: claims.sessionId.toString(), handle: claims.handle })
        .setProtectedHeader({ alg, kid: current.kid, typ: "JWT" })
        .setSubject(claims.userId.toString())
        .setIssuer(opts.issuer)
        .setAudience(opts.audience)
        .setIssuedAt(nowSec)
        .setExpirationTime(exp)
        .sign(privateKey);
      return { token, expiresAt: new Date(exp * 1000) };
    },
    jwks() {
      return { keys: published };
    },
  };
}

export interface RefreshToken {
  readonly token: string;
  readonly hash: Buffer;
}

export function sha256(s: string): Buffer {
  return createHash("sha256").update(s).digest();
}

/** A new refresh token for a session. */
export function newRefreshToken(sessionId: bigint): RefreshToken {
  const secret = randomBytes(32).toString("base64url");
  return { token: `${sessionId}.${secret}`, hash: sha256(secret) };
}

/** Splits a refresh token; undefined when it is not of our shape. */
export function parseRefreshToken(token: string): { sessionId: bigint; hash: Buffer } | undefined {
  const m = /^([1-9][0-9]{0,18})\.([A-Za-z0-9_-]{43})$/.exec(token);
  if (!m) return undefined;
  return { sessionId: BigInt(m[1]!), hash: sha256(m[2]!) };
}

export function sameHash(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
