-- taken_down mirrors the Post body's taken_down (written with the body), so a user's post
-- count can skip taken-down posts in SQL. Posts taken down before this column existed
-- count until their next change.
ALTER TABLE posts ADD COLUMN taken_down TINYINT(1) NOT NULL DEFAULT 0;

-- Accounts suspended by moderation, one row per SUSPEND_ACCOUNT action in force (from
-- action_taken; a REVERSE or the expiry removes its row). While a user has a row, their
-- posts carry author_suspended and users see none of them.
CREATE TABLE suspensions (
  user_id BIGINT NOT NULL,
  action_id BIGINT NOT NULL,
  PRIMARY KEY (user_id, action_id)
);
