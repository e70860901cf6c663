-- Accounts as graph knows them: mirrored from identity's account_created and
-- profile_updated events (and looked up in identity when an id is not here yet).
CREATE TABLE accounts (
  user_id BIGINT NOT NULL PRIMARY KEY,
  private TINYINT(1) NOT NULL DEFAULT 0,
  updated_at DATETIME(3) NOT NULL
);

-- follower_id follows followee_id. id is a time-ordered id of the edge: lists page
-- newest first by it (keyset), through the two secondary keys.
CREATE TABLE follows (
  follower_id BIGINT NOT NULL,
  followee_id BIGINT NOT NULL,
  id BIGINT NOT NULL,
  created_at DATETIME(3) NOT NULL,
  PRIMARY KEY (follower_id, followee_id),
  KEY follows_followers (followee_id, id),
  KEY follows_following (follower_id, id)
);

-- Pending requests to follow private accounts.
CREATE TABLE follow_requests (
  requester_id BIGINT NOT NULL,
  target_id BIGINT NOT NULL,
  id BIGINT NOT NULL,
  created_at DATETIME(3) NOT NULL,
  PRIMARY KEY (requester_id, target_id),
  KEY follow_requests_target (target_id, id)
);

CREATE TABLE blocks (
  blocker_id BIGINT NOT NULL,
  blocked_id BIGINT NOT NULL,
  created_at DATETIME(3) NOT NULL,
  PRIMARY KEY (blocker_id, blocked_id),
  KEY blocks_blocked (blocked_id)
);

CREATE TABLE mutes (
  muter_id BIGINT NOT NULL,
  muted_id BIGINT NOT NULL,
  created_at DATETIME(3) NOT NULL,
  PRIMARY KEY (muter_id, muted_id)
);

-- Exact counts, changed in the same transaction as the follows row (only when the
-- insert or delete of that row actually happened), so concurrent calls cannot drift.
CREATE TABLE counts (
  user_id BIGINT NOT NULL PRIMARY KEY,
  followers BIGINT NOT NULL DEFAULT 0,
  following BIGINT NOT NULL DEFAULT 0
);
