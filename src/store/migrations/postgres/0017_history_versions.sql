-- The version of each account's history (issue 15): the writers of check-and-record keep
-- each debtor's history from one batch to the next (src/store/postgres/histories.rs) and
-- use what they kept only while every account of the debtor still carries the version it
-- was kept at. `history_xid` is the transaction that last changed the account's history —
-- inserted, updated or deleted an event of the account, or one of its notices' status,
-- due time, request or account — set by the triggers below within that transaction,
-- whoever wrote: dunner's own paths, another daemon, an administrator's SQL. Transaction
-- ids never repeat (xid8 counts epochs), so a version names one state of the history.
--
-- Setting the version updates the account's row, so a transaction that changes an
-- account's history holds the account's lock until it ends, and check-and-record, which
-- locks the accounts first, reads the version as of the last such commit; nothing can
-- change the history again before it lets go. (`session_replication_role = replica`
-- skips triggers: a replication tool applying events to this database must not run while
-- daemons are writing to it.)
ALTER TABLE accounts ADD COLUMN history_xid xid8;
-- A new account starts at the version of the transaction that creates it, so that one
-- deleted and created again under its id never matches a history kept for the old one.
-- (Only new rows take the default: the accounts already there are not rewritten.)
ALTER TABLE accounts ALTER COLUMN history_xid SET DEFAULT pg_current_xact_id();

-- Statement triggers read the changed rows once per statement (a batch's events are one
-- statement); `IS DISTINCT FROM` skips the accounts this transaction already marked.
CREATE FUNCTION history_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE accounts SET history_xid = pg_current_xact_id()
     WHERE id IN (SELECT account_id FROM changed_rows)
       AND history_xid IS DISTINCT FROM pg_current_xact_id();
    RETURN NULL;
END
$$;

CREATE FUNCTION history_rows_moved() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE accounts SET history_xid = pg_current_xact_id()
     WHERE id IN (SELECT account_id FROM changed_rows UNION SELECT account_id FROM moved_rows)
       AND history_xid IS DISTINCT FROM pg_current_xact_id();
    RETURN NULL;
END
$$;

-- A notice's update changes the history only through the columns the history reads:
-- a row trigger on those (a lease, which sets only `lease_until`, changes nothing).
CREATE FUNCTION history_row_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE accounts SET history_xid = pg_current_xact_id()
     WHERE id IN (OLD.account_id, NEW.account_id)
       AND history_xid IS DISTINCT FROM pg_current_xact_id();
    RETURN NULL;
END
$$;

CREATE FUNCTION history_emptied() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE accounts SET history_xid = pg_current_xact_id();
    RETURN NULL;
END
$$;

CREATE TRIGGER events_inserted AFTER INSERT ON events
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION history_changed();
CREATE TRIGGER events_deleted AFTER DELETE ON events
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION history_changed();
CREATE TRIGGER events_updated AFTER UPDATE ON events
    REFERENCING OLD TABLE AS changed_rows NEW TABLE AS moved_rows
    FOR EACH STATEMENT EXECUTE FUNCTION history_rows_moved();
CREATE TRIGGER events_truncated AFTER TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION history_emptied();

CREATE TRIGGER notices_inserted AFTER INSERT ON notices
    REFERENCING NEW TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION history_changed();
CREATE TRIGGER notices_deleted AFTER DELETE ON notices
    REFERENCING OLD TABLE AS changed_rows
    FOR EACH STATEMENT EXECUTE FUNCTION history_changed();
CREATE TRIGGER notices_updated AFTER UPDATE OF id, account_id, status, due_at, request ON notices
    FOR EACH ROW EXECUTE FUNCTION history_row_changed();
CREATE TRIGGER notices_truncated AFTER TRUNCATE ON notices
    FOR EACH STATEMENT EXECUTE FUNCTION history_emptied();
