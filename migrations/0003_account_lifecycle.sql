-- Account lifecycle (README "Accounts and tokens", "Storage"): deletion in states, and lookups for
-- the scheduled sweep (worker/maintenance.ts).
--
-- `status` is 'active', or 'deleting' from the moment a deletion starts (DELETE /v1/accounts/me,
-- or the sweep removing an idle account) until its rows go: while 'deleting' the account's tokens
-- work for DELETE /v1/accounts/me only (a retry resumes the deletion) and no head can be written;
-- the scheduled handler finishes any deletion left half-way.
ALTER TABLE accounts ADD COLUMN status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deleting'));
ALTER TABLE accounts ADD COLUMN deleting_since INTEGER;
CREATE INDEX accounts_by_status ON accounts(status, created_at);

-- tokens.last_used_at is now written at most once per UTC day per token (worker/auth.ts), and the
-- sweep finds idle accounts by it.
CREATE INDEX tokens_by_last_use ON tokens(account_id, last_used_at);

-- The orphan sweep asks, per R2 object under heads/, whether an index row points at it.
CREATE INDEX heads_by_blob ON heads(blob_key);
