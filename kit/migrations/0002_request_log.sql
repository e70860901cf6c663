-- Idempotency keys (kit/idempotency.ts): the response of a create made with a client
-- request_id, keyed by (scope, caller, request_id), written in the create's transaction.
-- A retry with the same key gets the stored response; a different payload under the
-- same key is refused. Rows older than the retention window are purged.
CREATE TABLE request_log (
  scope VARCHAR(64) NOT NULL,
  caller_id BIGINT NOT NULL,
  request_id VARCHAR(64) NOT NULL,
  fingerprint BINARY(32) NOT NULL,
  response MEDIUMBLOB NOT NULL,
  created_at DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
  PRIMARY KEY (scope, caller_id, request_id),
  KEY request_log_created (created_at)
);
