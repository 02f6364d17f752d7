"""The floor under benches/http/attempts.sh: what SQLite itself does on this machine
with the rows one recorded attempt writes, without dunner. On a ledger created by
`dunner` (its migrations, so the same tables, indexes and triggers), with WAL and
`synchronous=FULL` like the daemon, it commits groups of GROUP attempts, each one
event row, one decision row and its account's chain head, for SECONDS seconds.

  insert  only the writes (the "raw SQLite commits N rows/s" figure);
  read    also reads each attempt's account and history first, as the writer must.

Prints one line per mode: `raw-<mode>: <attempts>/s`.
Usage: python3 benches/http/raw_sqlite.py DB_FILE [GROUP] [SECONDS]"""
import json
import sqlite3
import sys
import time
import uuid

path = sys.argv[1]
group = int(sys.argv[2]) if len(sys.argv) > 2 else 64
seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 5.0

db = sqlite3.connect(path, isolation_level=None)
db.execute("PRAGMA journal_mode=WAL")
db.execute("PRAGMA synchronous=FULL")
db.execute("PRAGMA foreign_keys=ON")
now = "2026-04-07T15:00:00.000000Z"
account = json.dumps(
    {
        "consumer": {"address": {"state": "NY"}, "time_zones": ["America/New_York"]},
        "balance": {"amount": "100.00", "currency": "USD"},
    }
)
db.execute("BEGIN")
db.executemany(
    "INSERT OR IGNORE INTO accounts (id, body, created_at, updated_at) VALUES (?1, ?2, ?3, ?3)",
    [(f"R-{i}", account, now) for i in range(1000)],
)
db.execute("COMMIT")
event = json.dumps(
    {"at": "2026-04-07T15:00:00Z", "type": "contact", "channel": "letter",
     "initiated_by": "collector", "purpose": "collection"}
)
question = json.dumps({"account_id": "R-0", "at": "2026-04-07T15:00:00Z",
                       "channel": "letter", "purpose": "collection"})
decision = json.dumps({"allowed": True, "outcome": "allowed", "reasons": [],
                       "next_allowed_at": None, "evaluated_rules": ["a", "b", "c"]})
digest = "0" * 64
hash_ = "f" * 64
history = (
    "SELECT body FROM accounts WHERE id = ?1 UNION ALL "
    "SELECT body FROM events WHERE account_id = ?1 AND at >= ?2"
)
positions = {}


def run(mode):
    done, n = 0, 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        db.execute("BEGIN IMMEDIATE")
        events, decisions = [], []
        for _ in range(group):
            account_id = f"R-{n % 1000}"
            n += 1
            if mode == "read":
                db.execute(history, (account_id, "2026-01-01T00:00:00.000000Z")).fetchall()
            position = positions.get(account_id, 0)
            event_id, decision_id = str(uuid.uuid4()), str(uuid.uuid4())
            events.append((event_id, account_id, "2026-04-07T15:00:00.000000Z", event, now,
                           position, hash_, hash_))
            decisions.append((decision_id, account_id, now, "allowed", digest, question,
                              decision, event_id, position + 1, hash_, hash_))
            positions[account_id] = position + 2
        db.executemany(
            "INSERT INTO events (id, account_id, at, body, recorded_at, chain_pos, content_hash, entry_hash)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", events)
        db.executemany(
            "INSERT INTO decisions (id, account_id, decided_at, outcome, policy_digest, question, decision, event_id, chain_pos, content_hash, entry_hash)"
            " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)", decisions)
        db.executemany(
            "INSERT INTO chain_heads (account_id, position, head) VALUES (?1, ?2, ?3)"
            " ON CONFLICT (account_id) DO UPDATE SET position = excluded.position, head = excluded.head",
            [(a, positions[a] - 1, hash_) for a in {row[1] for row in events}])
        db.execute("COMMIT")
        done += group
    return done / (time.perf_counter() - start)


for mode in ("insert", "read"):
    print(f"raw-{mode}: {run(mode):.0f}/s (groups of {group}, WAL, synchronous=FULL)")
