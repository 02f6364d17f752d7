-- The scheduler's partitions (issue 15): each account carries its consumer's partition,
-- and daemons sharing a ledger claim (tick slot, partition) pairs, so each consumer is
-- planned once per tick between them. Rows written before this migration are given
-- their partition by `dunner migrate` (the store's backfill).
ALTER TABLE accounts ADD COLUMN sched_partition INTEGER;
CREATE INDEX accounts_by_partition ON accounts (sched_partition, id);

CREATE TABLE scheduler_claims (
    slot        INTEGER NOT NULL,   -- the tick: seconds since the epoch / interval
    part        INTEGER NOT NULL,
    owner       TEXT NOT NULL,      -- the daemon: pid@host/instance
    claimed_at  TEXT NOT NULL,
    done_at     TEXT,
    planned     INTEGER,            -- consumers planned
    PRIMARY KEY (slot, part)
);
