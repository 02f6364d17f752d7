-- API keys limited to clients (issue 16): the client ids a key may reach, joined by
-- commas (a client id cannot hold one); NULL for a key that reaches every client, as
-- every key written before this migration does.
ALTER TABLE api_keys ADD COLUMN clients TEXT;
