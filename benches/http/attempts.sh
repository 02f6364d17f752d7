#!/usr/bin/env bash
# Durable check-and-record throughput on SQLite: a fresh ledger, 1,000 accounts, then
# wrk posting letters to random accounts. Usage: benches/http/attempts.sh [connections] [seconds]
set -euo pipefail
connections=${1:-16}
seconds=${2:-15}
dir=$(mktemp -d)
bin=target/release/dunner
db="sqlite://$dir/dunner.db"
token=$($bin keys create --name bench --scope record --database "$db" 2>/dev/null | tail -1)
DUNNER_LOG=warn $bin serve --database "$db" --listen 127.0.0.1:18081 >"$dir/serve.log" 2>&1 &
daemon=$!
trap 'kill $daemon 2>/dev/null; rm -rf "$dir"' EXIT
sleep 1.5
python3 benches/http/setup.py http://127.0.0.1:18081 "$token" >/dev/null
DUNNER_KEY=$token wrk -t1 -c"$connections" -d"${seconds}s" --latency -s benches/http/attempts.lua http://127.0.0.1:18081
python3 -c "import sqlite3,sys; print('events in the ledger:', sqlite3.connect(sys.argv[1]).execute('select count(*) from events').fetchone()[0])" "$dir/dunner.db"
