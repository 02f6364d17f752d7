#!/usr/bin/env bash
# The SQLite writer's instructions per durable attempt, deterministic whatever the load:
# the daemon under callgrind, collecting only inside the writer's `commit_group`, with wrk
# posting letters (benches/http/attempts.lua) for SECONDS; prints the instructions per
# attempt recorded, with and without SHA-256 (valgrind runs it in software, the native
# build on the CPU's SHA extensions, so that part is not what the daemon spends).
# Usage: benches/http/attempts_callgrind.sh [connections] [seconds]
set -euo pipefail
connections=${1:-16}
seconds=${2:-20}
dir=$(mktemp -d)
bin=${DUNNER_BIN:-target/release/dunner}
port=${PORT:-18097}
db="sqlite://$dir/dunner.db"
token=$($bin keys create --name bench --scope record --database "$db" 2>/dev/null | tail -1)
DUNNER_LOG=warn valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" \
  --collect-atstart=no --toggle-collect='dunner::store::sqlite::writer::commit_group' \
  $bin serve --database "$db" --listen 127.0.0.1:$port >"$dir/serve.log" 2>&1 &
daemon=$!
trap 'kill $daemon 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 600); do (echo >/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
python3 benches/http/setup.py http://127.0.0.1:$port "$token" PA >/dev/null
DUNNER_KEY=$token wrk -t1 -c"$connections" -d"${seconds}s" -s benches/http/attempts.lua http://127.0.0.1:$port >/dev/null
kill -INT $daemon
wait $daemon 2>/dev/null || true
n=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from events').fetchone()[0])" "$dir/dunner.db")
total=$(grep -h '^summary:' "$dir"/cg.out* | awk '{s += $2} END {print s}')
sha=$(callgrind_annotate "$dir"/cg.out* 2>/dev/null | awk '/sha256::soft/ {gsub(",", "", $1); s += $1} END {print s + 0}')
echo "attempts: $n; writer instructions per attempt: $((total / n)), without SHA-256: $(((total - sha) / n))"
