-- Conversations. A 1:1 convo has pair_key "<low id>:<high id>", unique, so the pair
-- has at most one (CreateConvo returns it); groups have NULL (NULLs never collide).
CREATE TABLE convos (
  convo_id BIGINT NOT NULL PRIMARY KEY,
  pair_key VARCHAR(41) NULL,
  is_group TINYINT(1) NOT NULL,
  created_by BIGINT NOT NULL,
  created_at DATETIME(3) NOT NULL,
  UNIQUE KEY convos_pair (pair_key)
);

-- One row per (convo, member): status, mute, whether still in it, the read mark and the
-- unread counter (messages from others after the mark; kept in the same transactions as
-- the messages and read marks, and recounted by reconcileUnread). activity_id orders
-- the member's convo list (newest message id, or the convo id before any message).
CREATE TABLE members (
  convo_id BIGINT NOT NULL,
  user_id BIGINT NOT NULL,
  status TINYINT NOT NULL,
  muted TINYINT(1) NOT NULL DEFAULT 0,
  active TINYINT(1) NOT NULL DEFAULT 1,
  read_message_id BIGINT NOT NULL DEFAULT 0,
  unread_count INT NOT NULL DEFAULT 0,
  activity_id BIGINT NOT NULL,
  last_message_id BIGINT NOT NULL DEFAULT 0,
  PRIMARY KEY (convo_id, user_id),
  KEY members_inbox (user_id, active, activity_id)
);

-- Messages, clustered by convo so a page is one range read (keyset on message_id).
CREATE TABLE messages (
  convo_id BIGINT NOT NULL,
  message_id BIGINT NOT NULL,
  sender_id BIGINT NOT NULL,
  text TEXT NOT NULL,
  media JSON NOT NULL,
  reply_to_message_id BIGINT NOT NULL DEFAULT 0,
  created_at DATETIME(3) NOT NULL,
  PRIMARY KEY (convo_id, message_id)
);

-- Messages a member deleted for themselves.
CREATE TABLE hidden_messages (
  user_id BIGINT NOT NULL,
  convo_id BIGINT NOT NULL,
  message_id BIGINT NOT NULL,
  PRIMARY KEY (user_id, convo_id, message_id)
);

-- Reactions. value is binary: emoji must compare byte for byte (a _ci collation makes
-- many different emoji equal).
CREATE TABLE reactions (
  message_id BIGINT NOT NULL,
  user_id BIGINT NOT NULL,
  value VARBINARY(64) NOT NULL,
  created_at DATETIME(3) NOT NULL,
  PRIMARY KEY (message_id, user_id, value)
);

-- Each user's log: seq is that user's own counter, taken under the row lock of
-- log_cursors in the transaction that writes the entry, so entries commit in seq order
-- and a reader after cursor c never misses one nor sees one twice.
CREATE TABLE log_cursors (
  user_id BIGINT NOT NULL PRIMARY KEY,
  seq BIGINT NOT NULL
);

CREATE TABLE log (
  user_id BIGINT NOT NULL,
  seq BIGINT NOT NULL,
  convo_id BIGINT NOT NULL,
  entry BLOB NOT NULL,
  created_at DATETIME(3) NOT NULL,
  PRIMARY KEY (user_id, seq)
);

-- Chat settings per user (identity has no place for them).
CREATE TABLE settings (
  user_id BIGINT NOT NULL PRIMARY KEY,
  allow_incoming TINYINT NOT NULL
);
