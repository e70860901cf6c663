-- Drops tipped to a post (wallet's transfer_posted events with code TIP): one row per
-- tip transfer, so a redelivered event counts once and the reconcile job can recount.
CREATE TABLE tips (
  transfer_id BIGINT NOT NULL PRIMARY KEY,
  post_id BIGINT NOT NULL,
  amount BIGINT NOT NULL,
  KEY tips_by_post (post_id)
);

ALTER TABLE post_counts ADD COLUMN drops_received BIGINT NOT NULL DEFAULT 0;
