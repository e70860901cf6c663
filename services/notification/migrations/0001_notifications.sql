-- Inbox entries. Similar events join one unread entry per (recipient, group_key):
-- open_marker is 1 while unread and NULL once read, and the unique key allows one open
-- entry per group (NULLs never collide). notification_id is re-assigned (time-ordered)
-- when a group gets a new actor, so lists sorted by it show the latest activity first.
CREATE TABLE notifications (
  id BIGINT NOT NULL PRIMARY KEY,
  notification_id BIGINT NOT NULL,
  recipient_id BIGINT NOT NULL,
  kind TINYINT NOT NULL,
  group_key VARCHAR(100) NOT NULL,
  post_id BIGINT NOT NULL DEFAULT 0,
  comment_id BIGINT NOT NULL DEFAULT 0,
  actor_ids JSON NOT NULL,
  actor_count INT NOT NULL,
  text VARCHAR(300) NOT NULL DEFAULT '',
  open_marker TINYINT NULL,
  created_at DATETIME(3) NOT NULL,
  updated_at DATETIME(3) NOT NULL,
  UNIQUE KEY notifications_open_group (recipient_id, group_key, open_marker),
  KEY notifications_inbox (recipient_id, notification_id)
);

-- Distinct actors of each entry (so the same user liking twice counts once).
CREATE TABLE notification_actors (
  id BIGINT NOT NULL,
  actor_id BIGINT NOT NULL,
  PRIMARY KEY (id, actor_id)
);
