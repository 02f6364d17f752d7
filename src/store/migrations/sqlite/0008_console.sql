-- API keys gain an expiry (refused from then on) and the last time they were used
-- (written at most once a minute per key, so a busy key costs no write per request).
ALTER TABLE api_keys ADD COLUMN expires_at TEXT;
ALTER TABLE api_keys ADD COLUMN last_used_at TEXT;

-- Console sessions: only the SHA-256 of the session id (the cookie) is kept, so a copy
-- of the ledger signs nobody in. The key is re-checked on every request: a revoked or
-- expired key's sessions die with it.
CREATE TABLE console_sessions (
    id_hash     TEXT PRIMARY KEY,
    key_id      TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX console_sessions_by_expiry ON console_sessions (expires_at);
