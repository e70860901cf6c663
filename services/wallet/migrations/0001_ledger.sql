-- Accounts after TigerBeetle's model: one per user (id = user id) plus system accounts
-- (1 = the mint that issues earned drops). The four sums change only in the transaction
-- that writes the transfer they count, with the account rows locked (FOR UPDATE, in id
-- order). must_not_go_negative is TigerBeetle's debits_must_not_exceed_credits:
-- debits_posted + debits_pending <= credits_posted, checked under the lock.
CREATE TABLE accounts (
  id BIGINT NOT NULL PRIMARY KEY,
  must_not_go_negative TINYINT(1) NOT NULL,
  debits_posted BIGINT NOT NULL DEFAULT 0,
  credits_posted BIGINT NOT NULL DEFAULT 0,
  debits_pending BIGINT NOT NULL DEFAULT 0,
  credits_pending BIGINT NOT NULL DEFAULT 0,
  created_at DATETIME(3) NOT NULL
);

INSERT INTO accounts (id, must_not_go_negative, created_at) VALUES (1, 0, CURRENT_TIMESTAMP(3));

-- Immutable transfers. id is the idempotency key (derived from payer + request_id, or
-- from the event that earned). kind: 0 single-phase (posted), 1 pending (a hold),
-- 2 post of a pending, 3 void of a pending; a post or void names its hold in
-- pending_id, and the unique key lets a hold be resolved exactly once.
CREATE TABLE transfers (
  id BIGINT NOT NULL PRIMARY KEY,
  debit_account_id BIGINT NOT NULL,
  credit_account_id BIGINT NOT NULL,
  amount BIGINT NOT NULL,
  kind TINYINT NOT NULL,
  pending_id BIGINT NULL,
  code SMALLINT NOT NULL,
  memo VARCHAR(140) NOT NULL DEFAULT '',
  post_id BIGINT NOT NULL DEFAULT 0,
  timeout_seconds INT NOT NULL DEFAULT 0,
  created_at DATETIME(3) NOT NULL,
  expires_at DATETIME(3) NULL,
  UNIQUE KEY transfers_resolution (pending_id),
  KEY transfers_debit (debit_account_id),
  KEY transfers_credit (credit_account_id),
  CONSTRAINT transfers_amount_positive CHECK (amount > 0)
);

-- Holds not yet resolved: the expiry job's queue (FOR UPDATE SKIP LOCKED), deleted in
-- the transaction that posts or voids the hold.
CREATE TABLE open_holds (
  transfer_id BIGINT NOT NULL PRIMARY KEY,
  expires_at DATETIME(3) NOT NULL,
  KEY open_holds_expiry (expires_at)
);

-- Each account's history: one row per transfer touching it, seq time-ordered
-- (snowflake), for ListWalletEntries newest first by keyset.
CREATE TABLE wallet_entries (
  account_id BIGINT NOT NULL,
  seq BIGINT NOT NULL,
  transfer_id BIGINT NOT NULL,
  PRIMARY KEY (account_id, seq)
);

-- Drops per account, UTC day and transfer code: earned (credit side, earn codes) and
-- given (debit side, gift/tip/hold codes), for the daily caps and GetWallet.
CREATE TABLE daily_totals (
  account_id BIGINT NOT NULL,
  day DATE NOT NULL,
  code SMALLINT NOT NULL,
  amount BIGINT NOT NULL,
  PRIMARY KEY (account_id, day, code)
);
