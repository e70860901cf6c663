-- Accounts and their profiles: one row per user. handle and email are stored
-- lowercase, so the unique keys make them unique case-insensitively.
CREATE TABLE accounts (
  user_id BIGINT NOT NULL PRIMARY KEY,
  handle VARCHAR(30) NOT NULL,
  email VARCHAR(254) NOT NULL,
  password_hash VARCHAR(255) NOT NULL,
  display_name VARCHAR(64) NOT NULL,
  bio VARCHAR(300) NOT NULL DEFAULT '',
  avatar_media_id BIGINT NOT NULL DEFAULT 0,
  fields JSON NOT NULL,
  private TINYINT(1) NOT NULL DEFAULT 0,
  created_at DATETIME(3) NOT NULL,
  updated_at DATETIME(3) NOT NULL,
  UNIQUE KEY accounts_handle (handle),
  UNIQUE KEY accounts_email (email)
);

-- Sign-in sessions. The refresh token is `<session_id>.<secret>`; only the SHA-256 of
-- the current secret is kept. Rotated-out hashes go to refresh_history so a replayed
-- old token is recognised as theft and revokes the session.
CREATE TABLE sessions (
  session_id BIGINT NOT NULL PRIMARY KEY,
  user_id BIGINT NOT NULL,
  refresh_hash BINARY(32) NOT NULL,
  created_at DATETIME(3) NOT NULL,
  refreshed_at DATETIME(3) NOT NULL,
  expires_at DATETIME(3) NOT NULL,
  revoked_at DATETIME(3) NULL,
  KEY sessions_user (user_id)
);

CREATE TABLE refresh_history (
  refresh_hash BINARY(32) NOT NULL PRIMARY KEY,
  session_id BIGINT NOT NULL,
  rotated_at DATETIME(3) NOT NULL
);

-- Ed25519 keys that sign access tokens. Public halves are published as JWKS. Keys are
-- generated on first start; retired keys stay published until tokens signed with them
-- have expired.
CREATE TABLE signing_keys (
  kid VARCHAR(64) NOT NULL PRIMARY KEY,
  private_jwk TEXT NOT NULL,
  public_jwk TEXT NOT NULL,
  created_at DATETIME(3) NOT NULL,
  retired_at DATETIME(3) NULL
);
