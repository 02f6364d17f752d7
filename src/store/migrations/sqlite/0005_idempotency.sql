-- Idempotency keys of writes: a repeat of a key with the same request answers the first
-- response and writes nothing; the row is written in the transaction of the write itself.
CREATE TABLE idempotency_keys (
    key          TEXT PRIMARY KEY,
    request_hash TEXT NOT NULL,
    response     TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
