-- Posts. `body` is the Post message (protobuf), the columns beside it are what queries
-- filter and sort on. Deleting sets deleted_at: the post disappears from every read.
CREATE TABLE posts (
  post_id BIGINT NOT NULL PRIMARY KEY,
  author_id BIGINT NOT NULL,
  refer_post_id BIGINT NOT NULL DEFAULT 0,
  body MEDIUMBLOB NOT NULL,
  created_at DATETIME(3) NOT NULL,
  deleted_at DATETIME(3) NULL,
  KEY posts_author (author_id, post_id),
  KEY posts_refer (refer_post_id)
);

-- Earlier captions of edited posts (revision 1 is the original).
CREATE TABLE post_revisions (
  post_id BIGINT NOT NULL,
  revision INT NOT NULL,
  caption TEXT NOT NULL,
  created_at DATETIME(3) NOT NULL,
  PRIMARY KEY (post_id, revision)
);

-- Which posts carry a hashtag (search and tag pages).
CREATE TABLE post_hashtags (
  tag VARCHAR(100) NOT NULL,
  post_id BIGINT NOT NULL,
  PRIMARY KEY (tag, post_id)
);
