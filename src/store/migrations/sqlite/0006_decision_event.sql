-- The contact a decision allowed and recorded: the decision log links each recorded
-- attempt to the decision that let it through (NULL for questions, refusals and notices).
ALTER TABLE decisions ADD COLUMN event_id TEXT;
