-- An imported event's fingerprint (its account, its body and its occurrence among identical
-- entries of one import): importing the same files again writes no event twice.
ALTER TABLE events ADD COLUMN import_key TEXT;
CREATE UNIQUE INDEX events_import_key ON events (import_key);
