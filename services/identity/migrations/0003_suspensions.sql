-- Accounts moderation suspended (oasis.moderation.v1 SUSPEND_ACCOUNT), one row per
-- standing suspension action; a REVERSE (by a reviewer, or moderation's timer when the
-- duration ends) deletes it. `until` is informational: moderation lifts it.
CREATE TABLE suspensions (
  user_id BIGINT NOT NULL,
  action_id BIGINT NOT NULL,
  until DATETIME(3) NULL,
  created_at DATETIME(3) NOT NULL,
  PRIMARY KEY (user_id, action_id)
);
