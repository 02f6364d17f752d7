-- The scheduler's partitions (issue 15): each account carries its consumer's partition,
-- and daemons sharing a ledger claim (tick slot, partition) pairs, so each consumer is
-- planned once per tick between them. Rows written before this migration are given
-- their partition by `dunner migrate` (the store's backfill).
ALTER TABLE accounts ADD COLUMN sched_partition BIGINT;
CREATE INDEX accounts_by_partition ON accounts (sched_partition, id);

CREATE TABLE scheduler_claims (
    slot        BIGINT NOT NULL,    -- the tick: seconds since the epoch / interval
    part        BIGINT NOT NULL,
    owner       TEXT NOT NULL,      -- the daemon: pid@host/instance
    claimed_at  TIMESTAMPTZ NOT NULL,
    done_at     TIMESTAMPTZ,
    planned     BIGINT,             -- consumers planned
    PRIMARY KEY (slot, part)
);
