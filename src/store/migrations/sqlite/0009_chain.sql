-- Tamper evidence (see `domain::chain`): every event and decision is an entry of its
-- account's hash chain. `chain_pos` is the entry's position in the chain (events and
-- decisions of one account share the numbering), `content_hash` the SHA-256 of its
-- canonical content, `entry_hash` the SHA-256 of the previous entry hash, the content
-- hash and the position. Rows written before this migration are chained by `dunner
-- migrate` (any open of the store that migrates it), in row order.
ALTER TABLE events ADD COLUMN chain_pos INTEGER;
ALTER TABLE events ADD COLUMN content_hash TEXT;
ALTER TABLE events ADD COLUMN entry_hash TEXT;
ALTER TABLE decisions ADD COLUMN chain_pos INTEGER;
ALTER TABLE decisions ADD COLUMN content_hash TEXT;
ALTER TABLE decisions ADD COLUMN entry_hash TEXT;
CREATE INDEX events_chain ON events (account_id, chain_pos);
CREATE INDEX decisions_chain ON decisions (account_id, chain_pos);
CREATE INDEX events_unchained ON events (account_id) WHERE chain_pos IS NULL;
CREATE INDEX decisions_unchained ON decisions (account_id) WHERE chain_pos IS NULL;

-- Each chain's newest entry, updated in the transaction that appends to it, and the
-- head as of the latest checkpoint.
CREATE TABLE chain_heads (
    account_id           TEXT PRIMARY KEY,
    position             INTEGER NOT NULL,
    head                 TEXT NOT NULL,
    checkpoint_position  INTEGER,
    checkpoint_head      TEXT
);

-- Global checkpoints: a digest over every account's head at `taken_at` (with the counts
-- of accounts and entries), each linked to the one before it; `signature` is the
-- ed25519 signature of `hash` by the daemon's `[audit] signing_key`, when it has one.
CREATE TABLE chain_checkpoints (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    taken_at   TEXT NOT NULL,
    accounts   INTEGER NOT NULL,
    entries    INTEGER NOT NULL,
    digest     TEXT NOT NULL,
    previous   TEXT NOT NULL,
    hash       TEXT NOT NULL,
    signature  TEXT
);
