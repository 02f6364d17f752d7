-- Each account's client (issue 16): the creditor or debt buyer the agency collects for,
-- copied from the account's body so API keys limited to clients and report filters can
-- select by it. Rows written before this migration have none (their bodies could not
-- name one).
ALTER TABLE accounts ADD COLUMN client TEXT;
CREATE INDEX accounts_by_client ON accounts (client, id);
