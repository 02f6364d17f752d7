-- The outbox: notices (emails, webhooks) waiting to leave, written in the same
-- transaction as the request that asked for them. A row is leased by the worker that
-- sends it (`lease_until`), so a crashed worker's notices are sent again, with the same id.
CREATE TABLE notices (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               TEXT NOT NULL UNIQUE,
    account_id       TEXT NOT NULL REFERENCES accounts (id),
    idempotency_key  TEXT UNIQUE,
    status           TEXT NOT NULL,   -- pending, delivered, cancelled, dead
    due_at           TEXT NOT NULL,   -- RFC 3339 UTC with microseconds: sorts as text
    lease_until      TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    last_error       TEXT,
    request          TEXT NOT NULL,   -- the notice request, as JSON
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);
CREATE INDEX notices_due ON notices (due_at) WHERE status = 'pending';
CREATE INDEX notices_by_status ON notices (status, seq);
