#!/usr/bin/env bash
# The size of a PostgreSQL ledger per account and per event: a generated portfolio
# (examples/generate_portfolio.py, seed 7) imported with `dunner import` into a fresh
# database, then pg_total_relation_size (tables with their indexes and TOAST) per row.
# Usage: benches/http/ledger_size_pg.sh [accounts] [base URL without database]
set -euo pipefail
accounts=${1:-100000}
source benches/http/pg_lib.sh
pg_fresh_database size "${2:-}"
dir=$(mktemp -d)
bin=${DUNNER_BIN:-target/release/dunner}
trap 'pg_drop_database; rm -rf "$dir"' EXIT
python3 examples/generate_portfolio.py --accounts "$accounts" --seed 7 --as-of 2026-11-23 \
  --out-accounts "$dir/accounts.jsonl" --out-events "$dir/events.jsonl"
$bin migrate --database "$db" >/dev/null
echo "load before: $(uptime)"
start=$(date +%s.%N)
$bin import --database "$db" "$dir/accounts.jsonl" "$dir/events.jsonl" | tail -2
echo "import took $(echo "$(date +%s.%N) - $start" | bc) s; load after: $(uptime)"
psql "$db" -qc "VACUUM ANALYZE" >/dev/null
psql "$db" -At <<'SQL'
SELECT 'accounts: ' || count(*) || ', ' || pg_size_pretty(pg_total_relation_size('accounts'))
       || ', ' || pg_total_relation_size('accounts') / greatest(count(*), 1) || ' bytes per account' FROM accounts;
SELECT 'events: ' || count(*) || ', ' || pg_size_pretty(pg_total_relation_size('events'))
       || ', ' || pg_total_relation_size('events') / greatest(count(*), 1) || ' bytes per event' FROM events;
SELECT 'chain heads: ' || pg_size_pretty(pg_total_relation_size('chain_heads'));
SELECT 'database: ' || pg_size_pretty(pg_database_size(current_database()));
SQL
