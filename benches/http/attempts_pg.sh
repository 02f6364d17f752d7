#!/usr/bin/env bash
# Durable check-and-record throughput on PostgreSQL: a fresh database on the local server
# (default `synchronous_commit=on`, every 201 committed), 1,000 accounts L-0 … L-999 in
# Texas (pg_lib.sh: every request is a durable write and a 201), then wrk posting letters
# to random accounts (benches/http/attempts.lua). In the same run, the server's own commit
# rate for comparison: pgbench inserting one row per transaction with as many clients as
# wrk has connections (the ceiling of durable commits on this machine), and the CPU of the
# daemon and of the database's backends. Set DUNNER_BIN to measure another build.
# Usage: benches/http/attempts_pg.sh [connections] [seconds] [base URL without database]
set -euo pipefail
connections=${1:-16}
seconds=${2:-15}
source benches/http/pg_lib.sh
pg_bench_start attempts "${3:-}"
pg_serve_texas
# CPU seconds (user + system) of the daemon and of the PostgreSQL backends serving this
# database (those opened during the run count from zero), so the report can say whose
# CPU the attempts cost.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
backends() { pgrep -f "postgres: .* $name " || true; }
declare -A pg_before
for pid in $(backends); do pg_before[$pid]=$(ticks "$pid"); done
# Transactions the database committed during the run (the writers' batches and every
# other statement sent outside one, such as key look-ups), per recorded attempt below.
commits() { psql "$db" -Atc "SELECT xact_commit FROM pg_stat_database WHERE datname = '$name'"; }
commits_before=$(commits)
echo "load before: $(uptime)"
daemon_before=$(ticks "$daemon")
DUNNER_KEY=$token wrk -t1 -c"$connections" -d"${seconds}s" --latency -s benches/http/attempts.lua http://127.0.0.1:18081
hz=$(getconf CLK_TCK)
pg_used=0; n=0
for pid in $(backends); do
  pg_used=$((pg_used + $(ticks "$pid") - ${pg_before[$pid]:-0})); n=$((n + 1))
done
echo "cpu: daemon $(( ($(ticks "$daemon") - daemon_before) * 100 / hz / seconds ))% of a core, postgres backends $(( pg_used * 100 / hz / seconds ))% of a core ($n backends)"
echo "load after: $(uptime)"
psql "$db" -Atc "SELECT 'events in the ledger: ' || count(*) FROM events"
psql "$db" -Atc "SELECT 'decisions in the ledger: ' || count(*) FROM decisions"
# pg_stat_database is updated by each backend when it goes idle: give it a moment.
sleep 1
recorded=$(psql "$db" -Atc "SELECT count(*) FROM events")
echo "transactions committed during the run: $(( $(commits) - commits_before )) for $recorded attempts"
# The ledger's size per attempt (an event, a decision, their indexes and chain links).
psql "$db" -Atc "SELECT 'bytes per recorded attempt (events + decisions + indexes): ' ||
  (pg_total_relation_size('events') + pg_total_relation_size('decisions')) / greatest(count(*), 1) FROM events"
kill "$daemon"; wait "$daemon" 2>/dev/null || true; daemon=
# The ceiling: one-row INSERT transactions at the same concurrency, same server.
psql "$db" -qc "CREATE TABLE bench_raw (id bigserial PRIMARY KEY, body jsonb NOT NULL)"
echo 'INSERT INTO bench_raw (body) VALUES ('"'"'{"channel":"letter"}'"'"');' >"$dir/raw.sql"
if command -v pgbench >/dev/null; then
  pgbench -n -c"$connections" -j1 -T"$seconds" -f "$dir/raw.sql" "$db" 2>/dev/null | grep -E "tps|latency average"
else
  echo "pgbench not installed: no raw commit rate"
fi
