#!/usr/bin/env bash
# Decisions per second of one daemon on a PostgreSQL ledger: the stateless question
# (`POST /v1/evaluate`, benches/http/evaluate.lua: no ledger read) and the logged one
# (`POST /v1/decisions`, benches/http/decisions_pg.lua: the account's history read under
# its lock and the decision written, durably, in the group-commit writers' batches).
# A fresh database on the local server, 1,000 accounts in Texas (pg_lib.sh).
# Usage: benches/http/decisions_pg.sh [connections] [seconds] [base URL without database]
set -euo pipefail
connections=${1:-16}
seconds=${2:-10}
source benches/http/pg_lib.sh
pg_bench_start decisions "${3:-}"
token=$($bin keys create --name bench --scope decide --scope record --database "$db" 2>/dev/null | tail -1)
DUNNER_LOG=warn $bin serve --open-evaluate --database "$db" --listen 127.0.0.1:18083 >"$dir/serve.log" 2>&1 &
daemon=$!
sleep 1.5
texas_accounts http://127.0.0.1:18083 "$token"
echo "== POST /v1/evaluate, load before: $(uptime)"
wrk -t1 -c"$connections" -d"${seconds}s" --latency -s benches/http/evaluate.lua http://127.0.0.1:18083/v1/evaluate
echo "== POST /v1/decisions, load before: $(uptime)"
DUNNER_KEY=$token wrk -t1 -c"$connections" -d"${seconds}s" --latency -s benches/http/decisions_pg.lua http://127.0.0.1:18083
echo "load after: $(uptime)"
psql "$db" -Atc "SELECT 'decisions logged: ' || count(*) || ', bytes per logged decision (table + indexes): ' || pg_total_relation_size('decisions') / greatest(count(*), 1) FROM decisions"
