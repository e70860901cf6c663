-- Appeals: one per action (UNIQUE), by the owner. While one is pending, the ticket's
-- appeal_action_id names the appealed action and appeal_reviewer_id its reviewer, who
-- may not claim it (the `appeals` queue). decided_action_id: the ACKNOWLEDGE (upheld) or
-- REVERSE (overturned) that settled it.
CREATE TABLE appeals (
  appeal_id BIGINT NOT NULL PRIMARY KEY,
  action_id BIGINT NOT NULL,
  ticket_id BIGINT NOT NULL,
  appellant_id BIGINT NOT NULL,
  text TEXT NOT NULL,
  decided_action_id BIGINT NOT NULL DEFAULT 0,
  overturned TINYINT(1) NOT NULL DEFAULT 0,
  created_at DATETIME(3) NOT NULL,
  UNIQUE KEY appeals_action (action_id)
);

ALTER TABLE tickets
  ADD COLUMN appeal_action_id BIGINT NOT NULL DEFAULT 0,
  ADD COLUMN appeal_reviewer_id BIGINT NOT NULL DEFAULT 0;
