-- Likes: one row per (post, user). id is time-ordered, for likers newest first.
CREATE TABLE likes (
  post_id BIGINT NOT NULL,
  user_id BIGINT NOT NULL,
  id BIGINT NOT NULL,
  created_at DATETIME(3) NOT NULL,
  PRIMARY KEY (post_id, user_id),
  KEY likes_by_user (user_id, post_id),
  KEY likes_newest (post_id, id)
);

-- Comments; replies are one level deep (parent_comment_id of a top-level comment).
CREATE TABLE comments (
  comment_id BIGINT NOT NULL PRIMARY KEY,
  post_id BIGINT NOT NULL,
  author_id BIGINT NOT NULL,
  parent_comment_id BIGINT NOT NULL DEFAULT 0,
  text TEXT NOT NULL,
  mention_user_ids JSON NOT NULL,
  created_at DATETIME(3) NOT NULL,
  deleted_at DATETIME(3) NULL,
  KEY comments_thread (post_id, parent_comment_id, comment_id)
);

-- Posts referring to a post (reposts and quotes), from post events.
CREATE TABLE refers (
  post_id BIGINT NOT NULL,
  referrer_post_id BIGINT NOT NULL,
  user_id BIGINT NOT NULL,
  PRIMARY KEY (post_id, referrer_post_id),
  KEY refers_by_user (user_id, post_id)
);

-- What interaction knows of a post: its author (who may delete comments, who gets
-- notified) and whether it was deleted (its comments are then hidden).
CREATE TABLE posts_meta (
  post_id BIGINT NOT NULL PRIMARY KEY,
  author_id BIGINT NOT NULL,
  deleted TINYINT(1) NOT NULL DEFAULT 0
);

-- Exact counters, changed in the same transaction as the row they count, only when that
-- row really changed. v increases with every change: Redis keeps the copy with the
-- highest v, so an old value can never overwrite a newer one.
CREATE TABLE post_counts (
  post_id BIGINT NOT NULL PRIMARY KEY,
  likes BIGINT NOT NULL DEFAULT 0,
  comments BIGINT NOT NULL DEFAULT 0,
  refers BIGINT NOT NULL DEFAULT 0,
  v BIGINT NOT NULL DEFAULT 0
);
