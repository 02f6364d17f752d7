-- The shadow policy's divergence from the live decision (the shadow's digest and
-- outcome, the rules only live and only the shadow refused by), beside the decision it
-- shadows; NULL when no shadow ran or it decided alike.
ALTER TABLE decisions ADD COLUMN shadow JSONB;
