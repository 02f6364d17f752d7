-- Check-and-record reads the pending notices of the consumer's accounts with their
-- history (on PostgreSQL with every batch, on SQLite whenever the writer's cache does
-- not hold the consumer). The only index that read could use was `notices_by_status`
-- (status, seq): it went through every pending notice of the ledger, whatever the
-- account, so with a large queue (a mailing to a whole portfolio) each attempt would
-- read it all. Keyed by account then status, the read reaches the few it wants; both
-- planners prefer it without statistics (an `IN` on the account and an equality on the
-- status against an equality alone), and the records' reads of an account's notices
-- use it too.
CREATE INDEX notices_by_account ON notices (account_id, status);
