-- Transactional outbox (kit/outbox.ts): an event row is written in the same transaction
-- as the change it describes; the relay publishes unsent rows to JetStream in id order
-- and stamps sent_at. id is the event id and the Nats-Msg-Id, so a re-publish after a
-- crash is dropped by JetStream's duplicate window and by consumers' processed_events.
CREATE TABLE outbox (
  id BIGINT NOT NULL PRIMARY KEY,
  subject VARCHAR(255) NOT NULL,
  payload MEDIUMBLOB NOT NULL,
  headers JSON NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  sent_at DATETIME(3) NULL,
  KEY outbox_unsent (sent_at, id)
);
