-- Fewer index entries per recorded attempt (issue 15): every attempt writes an event and
-- a decision, and each index on them is one more page written per attempt (an account's
-- entries sit on a page of their own in every index keyed by account).
--
-- `events_chain` and `decisions_chain` (account_id, chain_pos) served only the audit's
-- reads by range of account ids, which `events_by_account_and_time` (account_id, at)
-- and `decisions_by_account` (account_id, seq) serve as well: no query reads entries in
-- chain_pos order through an index (a chain is ordered in memory, by position).
DROP INDEX events_chain;
DROP INDEX decisions_chain;

-- Recorded attempts carry no import key: the unique index holds only the keys of
-- imported events (a NULL entry per attempt was written for nothing). The import's
-- lookup says `import_key IS NOT NULL`, so the planner uses it.
DROP INDEX events_import_key;
CREATE UNIQUE INDEX events_import_key ON events (import_key) WHERE import_key IS NOT NULL;
