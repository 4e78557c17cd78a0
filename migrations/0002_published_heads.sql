-- Default heads published by the operator (`PUT /v1/operator/heads/<name>`, `tannerin publish`).
-- They are listed in /v1/models next to the heads shipped with the deploy and survive redeploys.
-- Each version's files are R2 objects (binding HEADS) under `published/<name>/<write_id>/`:
-- head.json (the head document, its `id` set to the name), model.json and weights.bin (the same
-- head as standard TF.js files, which browsers download). `version` is the compare-and-swap guard.
CREATE TABLE published_heads (
  name TEXT PRIMARY KEY,                  -- lowercase words, e.g. "emoji-kinds"; the head's id in the API
  version INTEGER NOT NULL,
  write_id TEXT NOT NULL,                 -- the R2 prefix of this version's files
  etag TEXT NOT NULL,                     -- hex SHA-256 of head.json
  source_id TEXT NOT NULL,                -- the uploaded document's own id (its UUID)
  display_name TEXT NOT NULL,             -- the document's human-readable name
  backbone TEXT NOT NULL,                 -- "<backbone id>@<version>" it was made for
  classes TEXT NOT NULL,                  -- JSON array of labels
  input TEXT NOT NULL,                    -- JSON of the input transform
  files TEXT NOT NULL,                    -- JSON [{"file","bytes","sha256"}] for head.json, model.json, weights.bin
  bytes INTEGER NOT NULL,                 -- size of head.json
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
