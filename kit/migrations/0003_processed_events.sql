-- Consumer idempotency (kit/consumer.ts): an event id recorded here, in the same
-- transaction as the consumer's own writes, is never applied twice.
CREATE TABLE processed_events (
  consumer VARCHAR(64) NOT NULL,
  event_id BIGINT NOT NULL,
  processed_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (consumer, event_id),
  KEY processed_events_at (processed_at)
);
