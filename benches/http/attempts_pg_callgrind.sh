#!/usr/bin/env bash
# The PostgreSQL writers' instructions per durable attempt, independent of the machine's
# load: the daemon under callgrind on a fresh database of the local server (pg_lib.sh's
# 1,000 Texas accounts), collecting only inside the writer tasks (`run_writer`: taking
# a connection, the batch's statements and their rows, the decisions), with wrk posting
# letters (benches/http/attempts.lua) for SECONDS; prints the instructions per attempt
# recorded, with and without SHA-256 (valgrind runs it in software, the native build on
# the CPU's SHA extensions). The batches are larger than at full speed (the daemon runs
# some fifty times slower under valgrind), so compare builds with this script, not with
# attempts_pg.sh's CPU figures. Set DUNNER_BIN to measure another build.
# With CALLGRIND_KEEP=FILE, the profile is kept there (callgrind_annotate FILE).
# Usage: benches/http/attempts_pg_callgrind.sh [connections] [seconds] [base URL without database]
set -euo pipefail
connections=${1:-64}
seconds=${2:-20}
source benches/http/pg_lib.sh
pg_bench_start callgrind "${3:-}"
token=$($bin keys create --name bench --scope record --database "$db" 2>/dev/null | tail -1)
# The schema first, outside valgrind (migrations are not what is measured).
$bin migrate --database "$db" >/dev/null 2>&1 || true
# CALLGRIND_ALL=1 collects the whole daemon instead (its HTTP tasks, the runtime).
collect=(--collect-atstart=no --toggle-collect='dunner::store::postgres::batch::run_writer*')
[ -n "${CALLGRIND_ALL:-}" ] && collect=(--collect-atstart=yes)
DUNNER_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" "${collect[@]}" \
  $bin serve --database "$db" --listen 127.0.0.1:18081 >"$dir/serve.log" 2>&1 &
daemon=$!
for _ in $(seq 600); do (echo >/dev/tcp/127.0.0.1/18081) 2>/dev/null && break; sleep 0.1; done
texas_accounts http://127.0.0.1:18081 "$token"
DUNNER_KEY=$token wrk -t1 -c"$connections" -d"${seconds}s" -s benches/http/attempts.lua http://127.0.0.1:18081 >/dev/null
kill -INT $daemon
wait $daemon 2>/dev/null || true
daemon=
n=$(psql "$db" -Atc "SELECT count(*) FROM events")
total=$(grep -h '^summary:' "$dir"/cg.out* | awk '{s += $2} END {print s}')
sha=$(callgrind_annotate "$dir"/cg.out* 2>/dev/null | awk '/sha256::soft/ {gsub(",", "", $1); s += $1} END {print s + 0}')
what="writer"; [ -n "${CALLGRIND_ALL:-}" ] && what="daemon"
echo "attempts: $n; $what instructions per attempt: $((total / n)), without SHA-256: $(((total - sha) / n))"
[ -n "${CALLGRIND_KEEP:-}" ] && cat "$dir"/cg.out* >"$CALLGRIND_KEEP"
true
