-- Records management (issue 16): retention, purge and legal holds.
--
-- A purge scrubs an account's personal data in place and marks the rows it scrubbed:
-- `purged_at` on a chained event or decision tells `dunner audit verify` that the row's
-- content was rewritten on purpose, so the entry is checked by its stored `content_hash`
-- (kept) while the chain's links are still recomputed.
ALTER TABLE accounts ADD COLUMN purged_at TEXT;
ALTER TABLE events ADD COLUMN purged_at TEXT;
ALTER TABLE decisions ADD COLUMN purged_at TEXT;
CREATE INDEX events_purged ON events (account_id) WHERE purged_at IS NOT NULL;
CREATE INDEX decisions_purged ON decisions (account_id) WHERE purged_at IS NOT NULL;

-- Legal holds on an account or on every account of a client: while `released_at` is
-- NULL nothing they cover is purged.
CREATE TABLE legal_holds (
    id              TEXT PRIMARY KEY,
    scope           TEXT NOT NULL,   -- account, client
    target          TEXT NOT NULL,   -- the account id or the client id
    kind            TEXT NOT NULL,   -- litigation, dispute, regulator
    reason          TEXT NOT NULL,
    placed_at       TEXT NOT NULL,
    released_at     TEXT
);
CREATE INDEX legal_holds_in_force ON legal_holds (scope, target) WHERE released_at IS NULL;

-- The records log: every hold placed or released and every purge, in one hash chain
-- (`hash` = SHA-256 of `previous` and the record's canonical content). Bodies hold
-- nothing personal (a hold's reason is kept as its SHA-256).
CREATE TABLE records_log (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    at          TEXT NOT NULL,
    action      TEXT NOT NULL,   -- hold_placed, hold_released, purge
    account_id  TEXT,
    body        TEXT NOT NULL,
    previous    TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX records_log_by_account ON records_log (account_id, seq);
