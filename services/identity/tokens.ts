/**
 * Access and refresh tokens, and the keys that sign access tokens.
 *
 * Access tokens are JWTs signed with Ed25519 (EdDSA, RFC 8037) via jose: small, fast to
 * verify, and verifiable by the edge with only the public key (JWKS, RFC 7517) - the
 * edge never calls identity per request. Refresh tokens are opaque
 * `<session id>.<32 random bytes, base64url>`; identity stores only the SHA-256 of
 * the secret part, so a database leak does not leak usable tokens.
 *
 * Signing keys live in MariaDB (`signing_keys`) with the private half sealed by
 * AES-256-GCM (NIST SP 800-38D; 96-bit random IV, 128-bit tag) under the
 * key-encryption key OASIS_IDENTITY_KEK, which never touches the database: a dump of
 * the database alone cannot mint tokens. Sealed form: `v1.<base64url(iv | ciphertext | tag)>`,
 * with the key id as additional authenticated data, so a sealed key cannot be moved
 * to another row. A key this process cannot open (plain text from before sealing, or
 * sealed by another KEK) is sealed in place if plain, else retired, and a new key signs.
 *
 * Rotation publishes a new key at once but signs with it only `publishDelayMs` later
 * (40 s: longer than the 30 s an edge waits before refetching the JWKS for an unknown
 * key id), so no edge ever meets a token signed by a key it cannot fetch yet; the old
 * keys are retired as of that moment. Every replica reloads the keys every
 * `keyReloadMs` and signs with the newest key past its delay. A retired key stays in
 * the JWKS until the last token it may have signed has expired: retired_at + access
 * TTL + the reload period (a replica may sign with it until its next reload).
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { SignJWT, exportJWK, generateKeyPair, importJWK, type JWK, type CryptoKey } from "jose";
import type { Pool } from "#kit/mysql.ts";
import { insertSigningKey, publishedSigningKeys, retireSigningKeys, sealSigningKeyRow, type SigningKeyRow } from "./store.ts";

export interface AccessClaims {
  readonly userId: bigint;
  readonly sessionId: bigint;
  readonly handle: string;
  /** Roles granted to the token ("admin"); empty for most users. */
  readonly roles: readonly string[];
}

const alg = "EdDSA";
const lockName = "oasis_identity_signing_key";

/** Seals a private JWK under the KEK; `kid` is bound as additional authenticated data. */
export function sealKey(kek: Buffer, kid: string, plain: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", kek, iv);
  cipher.setAAD(Buffer.from(kid));
  const ct = Buffer.concat([cipher.update(plain, "utf8"), cipher.final()]);
  return `v1.${Buffer.concat([iv, ct, cipher.getAuthTag()]).toString("base64url")}`;
}

/** Opens a sealed private JWK; undefined when it is not sealed by this KEK (or not sealed). */
export function openKey(kek: Buffer, kid: string, sealed: string): string | undefined {
  if (!sealed.startsWith("v1.")) return undefined;
  const raw = Buffer.from(sealed.slice(3), "base64url");
  if (raw.length < 12 + 16) return undefined;
  try {
    const decipher = createDecipheriv("aes-256-gcm", kek, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(kid));
    decipher.setAuthTag(raw.subarray(raw.length - 16));
    return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]).toString("utf8");
  } catch {
    return undefined;
  }
}

/** How long a retired key stays published: access TTL plus the reload period, ms. */
export function retiredKeyWindowMs(accessTtlSeconds: number, keyReloadMs: number): number {
  return accessTtlSeconds * 1000 + keyReloadMs;
}

export interface KeyRingOptions {
  readonly issuer: string;
  readonly audience: string;
  readonly kek: Buffer;
  readonly accessTtlSeconds: number;
  readonly keyReloadMs: number;
  /** How long a new key is published before it signs, ms. */
  readonly publishDelayMs: number;
}

/**
 * The signing keys of this replica: signs with the newest active key, publishes the
 * active and recently retired public keys, rotates on request, reloads periodically.
 */
export class KeyRing {
  private current!: { kid: string; key: CryptoKey };
  private published: JWK[] = [];
  private timer: ReturnType<typeof setInterval> | undefined;

  private constructor(
    private readonly db: Pool,
    private readonly opts: KeyRingOptions,
  ) {}

  /** Loads the keys (creating the first, sealing legacy ones) and starts the periodic reload. */
  static async open(db: Pool, opts: KeyRingOptions): Promise<KeyRing> {
    const ring = new KeyRing(db, opts);
    await ring.reload();
    ring.timer = setInterval(() => void ring.reload().catch(() => {}), opts.keyReloadMs);
    ring.timer.unref?.();
    return ring;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Signs an access token; returns it and its expiry. */
  async sign(claims: AccessClaims, ttlSeconds: number): Promise<{ token: string; expiresAt: Date }> {
    const nowSec = Math.floor(Date.now() / 1000);
    const exp = nowSec + ttlSeconds;
    const body: Record<string, unknown> = { sid: claims.sessionId.toString(), handle: claims.handle };
    if (claims.roles.length) body.roles = [...claims.roles];
    const token = await new SignJWT(body)
      .setProtectedHeader({ alg, kid: this.current.kid, typ: "JWT" })
      .setSubject(claims.userId.toString())
      .setIssuer(this.opts.issuer)
      .setAudience(this.opts.audience)
      .setIssuedAt(nowSec)
      .setExpirationTime(exp)
      .sign(this.current.key);
    return { token, expiresAt: new Date(exp * 1000) };
  }

  /** The JWKS document (public keys only): active keys and retired keys whose tokens may live. */
  jwks(): { keys: JWK[] } {
    return { keys: this.published };
  }

  /** The key id new tokens are signed with. */
  currentKid(): string {
    return this.current.kid;
  }

  /**
   * Publishes a new key that signs from `publishDelayMs` on, when the others retire;
   * returns the new key id and when it starts signing.
   */
  async rotate(): Promise<{ kid: string; signsFrom: Date }> {
    const signsFrom = new Date(Date.now() + this.opts.publishDelayMs);
    let kid = "";
    await this.locked(async () => {
      kid = await this.insertNewKey();
      await retireSigningKeys(this.db, kid, signsFrom);
    });
    await this.reload();
    return { kid, signsFrom };
  }

  /** Reads the keys again: the newest active key this KEK opens signs. */
  async reload(): Promise<void> {
    let rows = await this.rows();
    let usable = await this.firstUsable(rows);
    if (!usable) {
      await this.locked(async () => {
        rows = await this.rows();
        for (const r of rows.filter((r) => r.privateJwk.startsWith("{"))) {
          // Written before keys were sealed: seal it in place (a one-time migration).
          await sealSigningKeyRow(this.db, r.kid, sealKey(this.opts.kek, r.kid, r.privateJwk));
        }
        rows = await this.rows();
        if (!(await this.firstUsable(rows))) {
          // No active key opens with this KEK (first start, or the KEK changed): a new
          // key signs from now on; the unreadable ones are retired, still published.
          const kid = await this.insertNewKey();
          await retireSigningKeys(this.db, kid, new Date());
        }
      });
      rows = await this.rows();
      usable = await this.firstUsable(rows);
      if (!usable) throw new Error("no signing key can be opened with OASIS_IDENTITY_KEK");
    }
    this.current = usable;
    this.published = rows.map((r) => JSON.parse(r.publicJwk) as JWK);
  }

  private rows(): Promise<SigningKeyRow[]> {
    const cutoff = new Date(Date.now() - retiredKeyWindowMs(this.opts.accessTtlSeconds, this.opts.keyReloadMs));
    return publishedSigningKeys(this.db, cutoff);
  }

  /**
   * The key to sign with: among keys not yet retired that this KEK opens (newest
   * first), the newest published for `publishDelayMs`, else the oldest (the one that
   * has been signing; on first start, or after a KEK change, the only one).
   */
  private async firstUsable(rows: SigningKeyRow[]): Promise<{ kid: string; key: CryptoKey } | undefined> {
    const now = Date.now();
    const open: Array<{ row: SigningKeyRow; plain: string }> = [];
    for (const r of rows) {
      if (r.retiredAt !== null && r.retiredAt.getTime() <= now) continue;
      const plain = openKey(this.opts.kek, r.kid, r.privateJwk);
      if (plain) open.push({ row: r, plain });
    }
    const pick = open.find((o) => o.row.createdAt.getTime() <= now - this.opts.publishDelayMs) ?? open[open.length - 1];
    return pick && { kid: pick.row.kid, key: (await importJWK(JSON.parse(pick.plain) as JWK, alg)) as CryptoKey };
  }

  private async insertNewKey(): Promise<string> {
    const { publicKey, privateKey } = await generateKeyPair(alg, { crv: "Ed25519", extractable: true });
    const kid = `ed25519-${randomBytes(6).toString("hex")}`;
    const pub = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
    const priv = JSON.stringify({ ...(await exportJWK(privateKey)), kid, alg });
    await insertSigningKey(this.db, { kid, privateJwk: sealKey(this.opts.kek, kid, priv), publicJwk: JSON.stringify(pub), createdAt: new Date(), retiredAt: null });
    return kid;
  }

  /** Runs `fn` under a MariaDB named lock, so concurrently starting or rotating replicas agree. */
  private async locked(fn: () => Promise<void>): Promise<void> {
    const conn = await this.db.getConnection();
    try {
      await conn.query(`SELECT GET_LOCK('${lockName}', 10)`);
      await fn();
    } finally {
      await conn.query(`SELECT RELEASE_LOCK('${lockName}')`).catch(() => {});
      conn.release();
    }
  }
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
