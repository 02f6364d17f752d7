#!/usr/bin/env bash
# Durable check-and-record throughput on SQLite: a fresh ledger, 1,000 accounts, then
# wrk posting letters to random accounts; then, in the same run, the floor under it: raw
# SQLite committing the same rows in groups (benches/http/raw_sqlite.py), and the ratio.
# Usage: benches/http/attempts.sh [connections] [seconds]
set -euo pipefail
connections=${1:-16}
seconds=${2:-15}
dir=$(mktemp -d)
bin=${DUNNER_BIN:-target/release/dunner}   # DUNNER_BIN: another build, to compare
port=${PORT:-18081}                         # PORT: another port (attempts_pg.sh also takes 18081)
db="sqlite://$dir/dunner.db"
# HISTORY_ACCOUNTS=N: the seeded variant (issue 15's workload): N accounts H-0 … with
# 0–30 prior events each (mean 15, benches/http/history.py), imported before the run, and
# letters posted to them at random; otherwise 1,000 accounts L-0 … without history.
if [ -n "${HISTORY_ACCOUNTS:-}" ]; then
  python3 benches/http/history.py "$dir" "$HISTORY_ACCOUNTS"
  $bin import --database "$db" "$dir/accounts.jsonl" "$dir/events.jsonl"
  export ACCOUNTS=$HISTORY_ACCOUNTS PREFIX=H-
fi
token=$($bin keys create --name bench --scope record --database "$db" 2>/dev/null | tail -1)
# HISTORY_CACHE_ROWS=N: the writer's history cache bound (`[database] history_cache_rows`).
config=()
if [ -n "${HISTORY_CACHE_ROWS:-}" ]; then
  printf '[database]\nhistory_cache_rows = %s\n' "$HISTORY_CACHE_ROWS" >"$dir/dunner.toml"
  config=(--config "$dir/dunner.toml")
fi
DUNNER_LOG=warn $bin "${config[@]}" serve --database "$db" --listen 127.0.0.1:$port >"$dir/serve.log" 2>&1 &
daemon=$!
trap 'kill $daemon 2>/dev/null; rm -rf "$dir"' EXIT
# Waits for the daemon (a loaded machine may take more than a second to start it).
for _ in $(seq 100); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
[ -n "${HISTORY_ACCOUNTS:-}" ] || python3 benches/http/setup.py http://127.0.0.1:$port "$token" PA >/dev/null
uptime
DUNNER_KEY=$token wrk -t1 -c"$connections" -d"${seconds}s" --latency -s benches/http/attempts.lua http://127.0.0.1:$port | tee "$dir/wrk.txt"
python3 -c "import sqlite3,sys; print('events in the ledger:', sqlite3.connect(sys.argv[1]).execute('select count(*) from events').fetchone()[0])" "$dir/dunner.db"
kill $daemon
wait $daemon 2>/dev/null || true
# The raw loop on a ledger of its own (the same migrations), in groups as large as the
# connections (the most the writer can hold at once).
$bin keys create --name raw --scope record --database "sqlite://$dir/raw.db" >/dev/null 2>&1
python3 benches/http/raw_sqlite.py "$dir/raw.db" "$connections" 5 | tee "$dir/raw.txt"
uptime
python3 - "$dir/wrk.txt" "$dir/raw.txt" <<'PY'
import re, sys
daemon = float(re.search(r"Requests/sec:\s+([0-9.]+)", open(sys.argv[1]).read()).group(1))
for line in open(sys.argv[2]):
    mode, rate = re.match(r"(raw-\w+): ([0-9]+)/s", line).groups()
    print(f"daemon/{mode}: {daemon / float(rate):.2f}")
PY
