-- The durable contact ledger (PostgreSQL). Accounts and events are kept as the JSON of
-- the `dunner decide` contract, so the engine reads exactly what callers wrote.
CREATE TABLE accounts (
    id          TEXT PRIMARY KEY,
    body        JSONB NOT NULL,
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);

-- Append-only: rows are never updated or deleted.
CREATE TABLE events (
    seq          BIGSERIAL PRIMARY KEY,
    id           TEXT NOT NULL UNIQUE,
    account_id   TEXT NOT NULL REFERENCES accounts (id),
    at           TIMESTAMPTZ NOT NULL,
    body         JSONB NOT NULL,
    recorded_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX events_by_account_and_time ON events (account_id, at);

-- Every decision made through the store, with the digest of the policy that made it.
CREATE TABLE decisions (
    seq            BIGSERIAL PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    account_id     TEXT NOT NULL,
    decided_at     TIMESTAMPTZ NOT NULL,
    outcome        TEXT NOT NULL,
    policy_digest  TEXT NOT NULL,
    question       JSONB NOT NULL,
    decision       JSONB NOT NULL
);
CREATE INDEX decisions_by_account ON decisions (account_id, seq);

-- The exact pack texts behind each digest, so an examiner can read the rules that
-- made any past decision.
CREATE TABLE policies (
    digest         TEXT PRIMARY KEY,
    sources        JSONB NOT NULL,
    first_used_at  TIMESTAMPTZ NOT NULL
);
