/**
 * Identity's SQL: accounts (with their profiles), sessions, refresh history and
 * signing keys, in database `oasis_identity`. Rows map to proto Profiles here so the
 * domain and handlers never see SQL shapes.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { select, write, type Queryable } from "#kit/mysql.ts";
import { ProfileSchema, type Profile } from "#gen/oasis/identity/v1/profile_pb.ts";
import type { Credentials, IdentityStore, NewAccount, ProfileChanges, SessionRow } from "./domain/model.ts";

export type { Credentials, NewAccount, ProfileChanges, SessionRow };

interface AccountRow {
  user_id: string;
  handle: string;
  email: string;
  display_name: string;
  bio: string;
  avatar_media_id: string;
  fields: string | Array<{ key: string; value: string }>;
  private: number;
  created_at: Date;
  updated_at: Date;
}

const profileColumns =
  "user_id, handle, email, display_name, bio, avatar_media_id, fields, private, created_at, updated_at";

function toProfile(r: AccountRow): Profile {
  const fields = typeof r.fields === "string" ? (JSON.parse(r.fields) as Array<{ key: string; value: string }>) : r.fields;
  return create(ProfileSchema, {
    userId: BigInt(r.user_id),
    handle: r.handle,
    displayName: r.display_name,
    bio: r.bio,
    avatarMediaId: BigInt(r.avatar_media_id),
    fields,
    private: r.private === 1,
    createTime: timestampFromDate(r.created_at),
    updateTime: timestampFromDate(r.updated_at),
  });
}

/** Inserts an account; duplicate handle/email surface as ER_DUP_ENTRY on key accounts_handle/accounts_email. */
export async function insertAccount(db: Queryable, a: NewAccount): Promise<void> {
  await write(
    db,
    `INSERT INTO accounts (user_id, handle, email, password_hash, display_name, fields, created_at, updated_at)
     VALUES (?, ?, ?, ?, ?, '[]', ?, ?)`,
    [a.userId, a.handle, a.email, a.passwordHash, a.displayName, a.now, a.now],
  );
}

export async function profileById(db: Queryable, userId: bigint, forUpdate = false): Promise<Profile | undefined> {
  const rows = await select<AccountRow>(
    db,
    `SELECT ${profileColumns} FROM accounts WHERE user_id = ?${forUpdate ? " FOR UPDATE" : ""}`,
    [userId],
  );
  return rows[0] && toProfile(rows[0]);
}

export async function profileByHandle(db: Queryable, handle: string): Promise<Profile | undefined> {
  const rows = await select<AccountRow>(db, `SELECT ${profileColumns} FROM accounts WHERE handle = ?`, [handle]);
  return rows[0] && toProfile(rows[0]);
}

/** Profiles for `userIds` (any order; missing ids are absent). */
export async function profilesByIds(db: Queryable, userIds: readonly bigint[]): Promise<Profile[]> {
  if (userIds.length === 0) return [];
  const rows = await select<AccountRow>(db, `SELECT ${profileColumns} FROM accounts WHERE user_id IN (?)`, [userIds]);
  return rows.map(toProfile);
}

/** Up to `limit` user ids above `afterId`, ascending. */
export async function userIdsAfter(db: Queryable, afterId: bigint, limit: number): Promise<bigint[]> {
  const rows = await select<{ user_id: bigint }>(db, "SELECT user_id FROM accounts WHERE user_id > ? ORDER BY user_id LIMIT ?", [afterId, limit]);
  return rows.map((r) => BigInt(r.user_id));
}

/** Looks an account up by lowercase handle or e-mail. */
export async function credentialsByLogin(db: Queryable, login: string): Promise<Credentials | undefined> {
  const column = login.includes("@") ? "email" : "handle";
  const rows = await select<{ user_id: string; handle: string; password_hash: string }>(
    db,
    `SELECT user_id, handle, password_hash FROM accounts WHERE ${column} = ?`,
    [login],
  );
  const r = rows[0];
  return r && { userId: BigInt(r.user_id), handle: r.handle, passwordHash: r.password_hash };
}

/** Writes the given profile columns and bumps updated_at. */
export async function updateProfileRow(db: Queryable, userId: bigint, c: ProfileChanges, now: Date): Promise<void> {
  const sets: string[] = ["updated_at = ?"];
  const params: unknown[] = [now];
  if (c.displayName !== undefined) sets.push("display_name = ?"), params.push(c.displayName);
  if (c.bio !== undefined) sets.push("bio = ?"), params.push(c.bio);
  if (c.avatarMediaId !== undefined) sets.push("avatar_media_id = ?"), params.push(c.avatarMediaId);
  if (c.fields !== undefined) sets.push("fields = ?"), params.push(JSON.stringify(c.fields.map((f) => ({ key: f.key, value: f.value }))));
  if (c.private !== undefined) sets.push("private = ?"), params.push(c.private ? 1 : 0);
  await write(db, `UPDATE accounts SET ${sets.join(", ")} WHERE user_id = ?`, [...params, userId]);
}

export async function insertSession(db: Queryable, s: { sessionId: bigint; userId: bigint; refreshHash: Buffer; expiresAt: Date; now: Date }): Promise<void> {
  await write(
    db,
    `INSERT INTO sessions (session_id, user_id, refresh_hash, created_at, refreshed_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
    [s.sessionId, s.userId, s.refreshHash, s.now, s.now, s.expiresAt],
  );
}

/** Reads a session, locking it for the rest of the transaction. */
export async function sessionForUpdate(db: Queryable, sessionId: bigint): Promise<SessionRow | undefined> {
  const rows = await select<{ session_id: string; user_id: string; refresh_hash: Buffer; created_at: Date; expires_at: Date; revoked_at: Date | null }>(
    db,
    "SELECT session_id, user_id, refresh_hash, created_at, expires_at, revoked_at FROM sessions WHERE session_id = ? FOR UPDATE",
    [sessionId],
  );
  const r = rows[0];
  return r && { sessionId: BigInt(r.session_id), userId: BigInt(r.user_id), refreshHash: r.refresh_hash, createdAt: r.created_at, expiresAt: r.expires_at, revokedAt: r.revoked_at };
}

/** Replaces the session's refresh hash, remembering the old one. */
export async function rotateSession(db: Queryable, s: { sessionId: bigint; oldHash: Buffer; newHash: Buffer; expiresAt: Date; now: Date }): Promise<void> {
  await write(db, "INSERT INTO refresh_history (refresh_hash, session_id, rotated_at) VALUES (?, ?, ?)", [s.oldHash, s.sessionId, s.now]);
  await write(db, "UPDATE sessions SET refresh_hash = ?, refreshed_at = ?, expires_at = ? WHERE session_id = ?", [
    s.newHash,
    s.now,
    s.expiresAt,
    s.sessionId,
  ]);
}

export async function revokeSessionRow(db: Queryable, sessionId: bigint, now: Date): Promise<void> {
  await write(db, "UPDATE sessions SET revoked_at = ? WHERE session_id = ? AND revoked_at IS NULL", [now, sessionId]);
}

/** True when `hash` was once this session's refresh token (a replay). */
export async function wasRotatedOut(db: Queryable, sessionId: bigint, hash: Buffer): Promise<boolean> {
  const rows = await select<{ n: number }>(db, "SELECT 1 AS n FROM refresh_history WHERE refresh_hash = ? AND session_id = ?", [hash, sessionId]);
  return rows.length > 0;
}

export interface SigningKeyRow {
  readonly kid: string;
  /** Sealed private JWK (tokens.ts), or plain JSON in rows from before sealing. */
  readonly privateJwk: string;
  readonly publicJwk: string;
  readonly createdAt: Date;
  readonly retiredAt: Date | null;
}

/** Active keys and keys retired after `retiredAfter`, newest first. */
export async function publishedSigningKeys(db: Queryable, retiredAfter: Date): Promise<SigningKeyRow[]> {
  const rows = await select<{ kid: string; private_jwk: string; public_jwk: string; created_at: Date; retired_at: Date | null }>(
    db,
    "SELECT kid, private_jwk, public_jwk, created_at, retired_at FROM signing_keys WHERE retired_at IS NULL OR retired_at > ? ORDER BY created_at DESC, kid",
    [retiredAfter],
  );
  return rows.map((r) => ({ kid: r.kid, privateJwk: r.private_jwk, publicJwk: r.public_jwk, createdAt: r.created_at, retiredAt: r.retired_at }));
}

export async function insertSigningKey(db: Queryable, k: SigningKeyRow): Promise<void> {
  await write(db, "INSERT INTO signing_keys (kid, private_jwk, public_jwk, created_at, retired_at) VALUES (?, ?, ?, ?, ?)", [
    k.kid,
    k.privateJwk,
    k.publicJwk,
    k.createdAt,
    k.retiredAt,
  ]);
}

/** Retires every active key except `keepKid`. */
export async function retireSigningKeys(db: Queryable, keepKid: string, now: Date): Promise<void> {
  await write(db, "UPDATE signing_keys SET retired_at = ? WHERE retired_at IS NULL AND kid <> ?", [now, keepKid]);
}

/** Replaces a plain private JWK with its sealed form. */
export async function sealSigningKeyRow(db: Queryable, kid: string, sealed: string): Promise<void> {
  await write(db, "UPDATE signing_keys SET private_jwk = ? WHERE kid = ? AND private_jwk LIKE '{%'", [sealed, kid]);
}

/**
 * Revokes every session of `userId` that may still have live access tokens (not
 * revoked, refresh not expired before `liveSince`); returns their ids.
 */
export async function revokeUserSessions(db: Queryable, userId: bigint, liveSince: Date, now: Date): Promise<bigint[]> {
  const rows = await select<{ session_id: string }>(
    db,
    "SELECT session_id FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? FOR UPDATE",
    [userId, liveSince],
  );
  const ids = rows.map((r) => BigInt(r.session_id));
  if (ids.length) await write(db, "UPDATE sessions SET revoked_at = ? WHERE session_id IN (?)", [now, ids]);
  return ids;
}

/** The password hash of an account, locked for the transaction when `forUpdate`. */
export async function passwordHashOf(db: Queryable, userId: bigint, forUpdate = false): Promise<string | undefined> {
  const rows = await select<{ password_hash: string }>(db, `SELECT password_hash FROM accounts WHERE user_id = ?${forUpdate ? " FOR UPDATE" : ""}`, [userId]);
  return rows[0]?.password_hash;
}

export async function updatePasswordHash(db: Queryable, userId: bigint, hash: string, now: Date): Promise<void> {
  await write(db, "UPDATE accounts SET password_hash = ?, updated_at = ? WHERE user_id = ?", [hash, now, userId]);
}

/** The granted roles of `userId`, sorted. */
export async function grantedRoles(db: Queryable, userId: bigint): Promise<string[]> {
  const rows = await select<{ role: string }>(db, "SELECT role FROM roles WHERE user_id = ? ORDER BY role", [userId]);
  return rows.map((r) => r.role);
}

/** Grants `role` to `userId` (INSERT IGNORE: a held role stays as granted first). */
export async function grantRole(db: Queryable, userId: bigint, role: string, grantedBy: bigint, now: Date): Promise<void> {
  await write(db, "INSERT IGNORE INTO roles (user_id, role, granted_by, granted_at) VALUES (?, ?, ?, ?)", [userId, role, grantedBy, now]);
}

export async function revokeRole(db: Queryable, userId: bigint, role: string): Promise<void> {
  await write(db, "DELETE FROM roles WHERE user_id = ? AND role = ?", [userId, role]);
}

/** Whether a suspension of `userId` stands. */
export async function isSuspended(db: Queryable, userId: bigint): Promise<boolean> {
  const rows = await select<{ n: number }>(db, "SELECT COUNT(*) AS n FROM suspensions WHERE user_id = ?", [userId]);
  return Number(rows[0]!.n) > 0;
}

export const identityStore: IdentityStore = {
  insertAccount,
  profileById,
  profileByHandle,
  profilesByIds,
  userIdsAfter,
  credentialsByLogin,
  updateProfileRow,
  insertSession,
  sessionForUpdate,
  rotateSession,
  revokeSessionRow,
  wasRotatedOut,
  revokeUserSessions,
  passwordHashOf,
  updatePasswordHash,
  grantedRoles,
  grantRole,
  revokeRole,
  isSuspended,
};
