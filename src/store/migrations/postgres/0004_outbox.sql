-- The outbox: notices (emails, webhooks) waiting to leave, written in the same
-- transaction as the request that asked for them. A row is leased by the worker that
-- sends it (`lease_until`, taken with FOR UPDATE SKIP LOCKED), so several daemons share
-- the work and a crashed worker's notices are sent again, with the same id.
CREATE TABLE notices (
    seq              BIGSERIAL PRIMARY KEY,
    id               TEXT NOT NULL UNIQUE,
    account_id       TEXT NOT NULL REFERENCES accounts (id),
    idempotency_key  TEXT UNIQUE,
    status           TEXT NOT NULL,
    due_at           TIMESTAMPTZ NOT NULL,
    lease_until      TIMESTAMPTZ,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    request          JSONB NOT NULL,
    created_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL
);
CREATE INDEX notices_due ON notices (due_at) WHERE status = 'pending';
CREATE INDEX notices_by_status ON notices (status, seq);
