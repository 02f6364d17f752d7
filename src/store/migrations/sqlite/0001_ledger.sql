-- The durable contact ledger (SQLite). Accounts and events are kept as the JSON of the
-- `dunner decide` contract, so the engine reads exactly what callers wrote.
CREATE TABLE accounts (
    id          TEXT PRIMARY KEY,
    body        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- Append-only: rows are never updated or deleted.
CREATE TABLE events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    id           TEXT NOT NULL UNIQUE,
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    at           TEXT NOT NULL,   -- RFC 3339 UTC with microseconds: sorts as text
    body         TEXT NOT NULL,
    recorded_at  TEXT NOT NULL
);
CREATE INDEX events_by_account_and_time ON events (account_id, at);

-- Every decision made through the store, with the digest of the policy that made it.
CREATE TABLE decisions (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    id             TEXT NOT NULL UNIQUE,
    account_id     TEXT NOT NULL,
    decided_at     TEXT NOT NULL,
    outcome        TEXT NOT NULL,
    policy_digest  TEXT NOT NULL,
    question       TEXT NOT NULL,
    decision       TEXT NOT NULL
);
CREATE INDEX decisions_by_account ON decisions (account_id, seq);

-- The exact pack texts behind each digest, so an examiner can read the rules that
-- made any past decision.
CREATE TABLE policies (
    digest         TEXT PRIMARY KEY,
    sources        TEXT NOT NULL,
    first_used_at  TEXT NOT NULL
);
