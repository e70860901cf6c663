-- One ticket per subject (content type + id): every report on the subject joins it.
-- `round` counts how often it was reopened (a report after CLOSED starts a new round).
-- The lease (holder_id, lease_token, lease_expires_at) is the workbench: a ticket is
-- claimable when OPEN/ESCALATED, or IN_REVIEW with an expired lease; claims take it
-- with SELECT ... FOR UPDATE SKIP LOCKED (design note 23). Times are the database's
-- clock (NOW(3)), so replicas with skewed clocks agree on expiry.
CREATE TABLE tickets (
  ticket_id BIGINT NOT NULL PRIMARY KEY,
  subject_type TINYINT NOT NULL,
  subject_id BIGINT NOT NULL,
  parent_id BIGINT NOT NULL DEFAULT 0,
  owner_id BIGINT NOT NULL,
  content_type VARCHAR(16) NOT NULL,
  language VARCHAR(8) NOT NULL,
  state TINYINT NOT NULL,
  escalated TINYINT(1) NOT NULL DEFAULT 0,
  priority INT NOT NULL DEFAULT 0,
  report_count INT NOT NULL DEFAULT 0,
  round INT NOT NULL DEFAULT 1,
  holder_id BIGINT NOT NULL DEFAULT 0,
  lease_token VARCHAR(32) NULL,
  lease_expires_at DATETIME(3) NULL,
  content_text TEXT NOT NULL,
  content_media JSON NOT NULL,
  content_gone TINYINT(1) NOT NULL DEFAULT 0,
  created_at DATETIME(3) NOT NULL,
  opened_at DATETIME(3) NOT NULL,
  UNIQUE KEY tickets_subject (subject_type, subject_id),
  KEY tickets_queue (state, escalated, content_type, language, priority, ticket_id)
);

-- Reports, one per reporter and subject per round (a repeat returns the first).
CREATE TABLE reports (
  report_id BIGINT NOT NULL PRIMARY KEY,
  ticket_id BIGINT NOT NULL,
  round INT NOT NULL,
  reporter_id BIGINT NOT NULL,
  reason_type TINYINT NOT NULL,
  reason_text TEXT NOT NULL,
  created_at DATETIME(3) NOT NULL,
  UNIQUE KEY reports_once (ticket_id, round, reporter_id)
);

-- Actions as taken. A REVERSE names the action it undoes; that action's reversed_by
-- points back. expires_at: a suspension or takedown that lifts itself (a job reverses
-- it as reviewer 0 when due).
CREATE TABLE actions (
  action_id BIGINT NOT NULL PRIMARY KEY,
  ticket_id BIGINT NOT NULL,
  subject_type TINYINT NOT NULL,
  subject_id BIGINT NOT NULL,
  parent_id BIGINT NOT NULL DEFAULT 0,
  owner_id BIGINT NOT NULL,
  action_type TINYINT NOT NULL,
  reviewer_id BIGINT NOT NULL,
  reason TEXT NOT NULL,
  expires_at DATETIME(3) NULL,
  reverses_action_id BIGINT NOT NULL DEFAULT 0,
  reversed_by BIGINT NOT NULL DEFAULT 0,
  created_at DATETIME(3) NOT NULL,
  KEY actions_ticket (ticket_id),
  KEY actions_due (reversed_by, expires_at)
);

-- The operation log: append-only (no UPDATE or DELETE anywhere in store.ts). Who did
-- what to which ticket, when and why.
CREATE TABLE operations (
  op_id BIGINT NOT NULL PRIMARY KEY,
  at DATETIME(3) NOT NULL,
  actor_id BIGINT NOT NULL,
  kind VARCHAR(16) NOT NULL,
  ticket_id BIGINT NOT NULL,
  action_id BIGINT NOT NULL DEFAULT 0,
  detail TEXT NOT NULL,
  KEY operations_ticket (ticket_id, op_id),
  KEY operations_actor (actor_id, op_id)
);
