-- Accounts, bearer tokens (digests only), pairing codes, rate-limit counters and the head index.
-- Head documents themselves live in R2 (binding HEADS); `heads.blob_key` names the object.
-- Times are milliseconds since the epoch. D1 enforces foreign keys, so deleting an account
-- removes its tokens, codes and index rows in the same statement.

CREATE TABLE accounts (
  id TEXT PRIMARY KEY,
  created_at INTEGER NOT NULL
);

-- One row per device: each sign-in (account creation, pairing) gets its own token.
CREATE TABLE tokens (
  id TEXT PRIMARY KEY,                    -- public token id (listed, revocable); never the secret
  hash TEXT NOT NULL UNIQUE,              -- hex SHA-256 of the token
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  label TEXT,                             -- device label the client chose, if any
  created_at INTEGER NOT NULL,
  last_used_at INTEGER                    -- updated at most hourly
);
CREATE INDEX tokens_by_account ON tokens(account_id);

-- Short-lived, single-use codes that give a new device a token. The lookup half finds the row;
-- the digest of the whole code is compared in constant time; failed attempts are counted.
CREATE TABLE pairing_codes (
  lookup TEXT PRIMARY KEY,
  hash TEXT NOT NULL,
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  attempts INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL
);
CREATE INDEX pairing_codes_by_account ON pairing_codes(account_id);
CREATE INDEX pairing_codes_by_expiry ON pairing_codes(expires_at);

-- The head index. Ids are device-made UUIDs scoped to the account: two accounts may hold the
-- same id without ever seeing each other's head. `version` counts writes and is the
-- compare-and-swap guard; `etag` is the hex SHA-256 of the stored document.
CREATE TABLE heads (
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  id TEXT NOT NULL,
  version INTEGER NOT NULL,
  etag TEXT NOT NULL,
  blob_key TEXT NOT NULL,
  name TEXT NOT NULL,
  backbone TEXT NOT NULL,                 -- "<backbone id>@<version>" the head was made for
  classes TEXT NOT NULL,                  -- JSON array of labels
  bytes INTEGER NOT NULL,                 -- size of the stored document
  fine_tuned INTEGER NOT NULL,            -- 1 if the document carries a backboneTail
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (account_id, id)
);

-- Fixed-window counters: one row per (rule key, window start).
CREATE TABLE rate_limits (
  key TEXT NOT NULL,
  window_start INTEGER NOT NULL,
  count INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (key, window_start)
);
CREATE INDEX rate_limits_by_expiry ON rate_limits(expires_at);
