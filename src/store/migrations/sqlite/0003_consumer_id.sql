-- Accounts of one consumer (the same `consumer.id`) are counted together by the caps
-- that say `per = "consumer"`; the column finds them without reading every body.
ALTER TABLE accounts ADD COLUMN consumer_id TEXT;
UPDATE accounts SET consumer_id = json_extract(body, '$.consumer.id');
CREATE INDEX accounts_by_consumer ON accounts (consumer_id) WHERE consumer_id IS NOT NULL;
