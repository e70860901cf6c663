-- Upload policies per bucket, changeable at run time (UpdateBucketPolicy).
CREATE TABLE buckets (
  name VARCHAR(64) NOT NULL PRIMARY KEY,
  allowed_content_types JSON NOT NULL,
  max_bytes BIGINT NOT NULL,
  min_width INT NOT NULL,
  min_height INT NOT NULL,
  max_width INT NOT NULL,
  max_height INT NOT NULL,
  max_count_per_post INT NOT NULL,
  allow_animated TINYINT(1) NOT NULL,
  watermark_text VARCHAR(64) NOT NULL DEFAULT '',
  updated_at DATETIME(3) NOT NULL
);

-- Defaults: post images 8-8000 px a side and up to 20 MiB (phone cameras are ~4000-6000 px;
-- small stickers and GIFs are welcome),
-- 9 per post (the app's grid); avatars smaller and never animated; chat images between.
INSERT INTO buckets VALUES
  ('post-images', '["image/jpeg","image/png","image/webp","image/gif"]', 20971520, 8, 8, 8000, 8000, 9, 1, '', CURRENT_TIMESTAMP(3)),
  ('avatars', '["image/jpeg","image/png","image/webp"]', 5242880, 64, 64, 4096, 4096, 1, 0, '', CURRENT_TIMESTAMP(3)),
  ('chat-images', '["image/jpeg","image/png","image/webp","image/gif"]', 10485760, 16, 16, 8000, 8000, 9, 1, '', CURRENT_TIMESTAMP(3));

-- A media item becomes visible when its row commits, which happens only after all its
-- needles are durable in the volume store. deleted_at hides it at once.
CREATE TABLE media (
  id BIGINT NOT NULL PRIMARY KEY,
  owner_id BIGINT NOT NULL,
  bucket VARCHAR(64) NOT NULL,
  content_type VARCHAR(64) NOT NULL,
  width INT NOT NULL,
  height INT NOT NULL,
  size_bytes BIGINT NOT NULL,
  blurhash VARCHAR(64) NOT NULL,
  content_hash CHAR(64) NOT NULL,
  animated TINYINT(1) NOT NULL,
  created_at DATETIME(3) NOT NULL,
  deleted_at DATETIME(3) NULL,
  KEY media_owner (owner_id, id)
);

-- Where each variant's bytes are: a needle (key, cookie) in the volume store.
CREATE TABLE media_variants (
  media_id BIGINT NOT NULL,
  name VARCHAR(16) NOT NULL,
  needle_key BIGINT NOT NULL,
  cookie INT UNSIGNED NOT NULL,
  content_type VARCHAR(64) NOT NULL,
  width INT NOT NULL,
  height INT NOT NULL,
  size_bytes BIGINT NOT NULL,
  PRIMARY KEY (media_id, name),
  UNIQUE KEY media_variants_needle (needle_key)
);
