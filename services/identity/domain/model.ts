/**
 * Identity's entities and the store's interface (store.ts implements it over MySQL,
 * database `oasis_identity`). Every method runs on `db`: a pool or a transaction.
 */
import type { Queryable } from "#kit/mysql.ts";
import type { Profile, ProfileField } from "#gen/oasis/identity/v1/profile_pb.ts";

/** The profile columns an update sets (absent: unchanged); store.ts writes them. */
export interface ProfileChanges {
  displayName?: string;
  bio?: string;
  avatarMediaId?: bigint;
  fields?: ProfileField[];
  private?: boolean;
}

/** A new account's row: ids, lowercase handle and e-mail, argon2id hash, times. */
export interface NewAccount {
  readonly userId: bigint;
  readonly handle: string;
  readonly email: string;
  readonly passwordHash: string;
  readonly displayName: string;
  readonly now: Date;
}

/** What a sign-in checks against. */
export interface Credentials {
  readonly userId: bigint;
  readonly handle: string;
  readonly passwordHash: string;
}

/** One session as stored: its current refresh hash (sha-256), lifetime and revocation. */
export interface SessionRow {
  readonly sessionId: bigint;
  readonly userId: bigint;
  readonly refreshHash: Buffer;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  readonly revokedAt: Date | null;
}

/** What identity's use cases need of the database. */
export interface IdentityStore {
  /** Inserts an account; duplicate handle/email surface as ER_DUP_ENTRY on key accounts_handle/accounts_email. */
  insertAccount(db: Queryable, a: NewAccount): Promise<void>;
  profileById(db: Queryable, userId: bigint, forUpdate?: boolean): Promise<Profile | undefined>;
  profileByHandle(db: Queryable, handle: string): Promise<Profile | undefined>;
  /** Profiles for `userIds` (any order; missing ids are absent). */
  profilesByIds(db: Queryable, userIds: readonly bigint[]): Promise<Profile[]>;
  /** Up to `limit` user ids above `afterId`, ascending. */
  userIdsAfter(db: Queryable, afterId: bigint, limit: number): Promise<bigint[]>;
  /** Looks an account up by lowercase handle or e-mail. */
  credentialsByLogin(db: Queryable, login: string): Promise<Credentials | undefined>;
  /** Writes the given profile columns and bumps updated_at. */
  updateProfileRow(db: Queryable, userId: bigint, c: ProfileChanges, now: Date): Promise<void>;
  insertSession(db: Queryable, s: { sessionId: bigint; userId: bigint; refreshHash: Buffer; expiresAt: Date; now: Date }): Promise<void>;
  /** Reads a session, locking it for the rest of the transaction. */
  sessionForUpdate(db: Queryable, sessionId: bigint): Promise<SessionRow | undefined>;
  /** Replaces the session's refresh hash, remembering the old one. */
  rotateSession(db: Queryable, s: { sessionId: bigint; oldHash: Buffer; newHash: Buffer; expiresAt: Date; now: Date }): Promise<void>;
  revokeSessionRow(db: Queryable, sessionId: bigint, now: Date): Promise<void>;
  /** True when `hash` was once this session's refresh token (a replay). */
  wasRotatedOut(db: Queryable, sessionId: bigint, hash: Buffer): Promise<boolean>;
  /** Revokes every session of `userId` whose refresh did not expire before `liveSince`; returns their ids. */
  revokeUserSessions(db: Queryable, userId: bigint, liveSince: Date, now: Date): Promise<bigint[]>;
  /** The password hash of an account, locked for the transaction when `forUpdate`. */
  passwordHashOf(db: Queryable, userId: bigint, forUpdate?: boolean): Promise<string | undefined>;
  updatePasswordHash(db: Queryable, userId: bigint, hash: string, now: Date): Promise<void>;
  /** The granted roles of `userId` (table `roles`), sorted. */
  grantedRoles(db: Queryable, userId: bigint): Promise<string[]>;
  /** Grants `role` (no-op when held); `grantedBy` 0 is the operator. */
  grantRole(db: Queryable, userId: bigint, role: string, grantedBy: bigint, now: Date): Promise<void>;
  /** Takes `role` away (no-op when not held). */
  revokeRole(db: Queryable, userId: bigint, role: string): Promise<void>;
  /** Whether a suspension of `userId` stands. */
  isSuspended(db: Queryable, userId: bigint): Promise<boolean>;
}
