#!/usr/bin/env bash
# The hot-path cost of a shadow policy: POST /v1/evaluate (examples/decide-request.json)
# against two release daemons on SQLite, one without and one with `[rules] shadow` (the
# shipped packs plus a client overlay, so that the shadow decides differently), run in
# turns in the same session so that both see the same machine load.
# Usage: benches/http/shadow.sh [rounds] [seconds] [connections]
set -euo pipefail
rounds=${1:-3}
seconds=${2:-10}
connections=${3:-16}
bin=target/release/dunner
dir=$(mktemp -d)
mkdir "$dir/shadow"
cp rules/*.toml "$dir/shadow/"
rm -f "$dir"/shadow/*.tests.toml
cat > "$dir/shadow/client-noon.toml" <<'TOML'
[pack]
id = "client-noon"
title = "Client overlay: calls only at lunchtime"
version = "1"
citation = "Client contract 4.2"
effective_from = 2021-01-01

[pack.scope]
country = "US"

[[window]]
id = "client.noon-only"
citation = "Client contract 4.2"
message = "Calls only between noon and 1 pm."
channels = ["call"]
allow = [{ from = "12:00", to = "13:00" }]
TOML
printf '[rules]\nshadow = "%s"\n' "$dir/shadow" > "$dir/shadow.toml"
printf '\n' > "$dir/plain.toml"
DUNNER_LOG=warn $bin --config "$dir/plain.toml" serve --open-evaluate --listen 127.0.0.1:18091 \
  --database "sqlite://$dir/plain.db" >"$dir/plain.log" 2>&1 &
plain=$!
DUNNER_LOG=warn $bin --config "$dir/shadow.toml" serve --open-evaluate --listen 127.0.0.1:18092 \
  --database "sqlite://$dir/shadow.db" >"$dir/shadow.log" 2>&1 &
shadowed=$!
trap 'kill $plain $shadowed 2>/dev/null; rm -rf "$dir"' EXIT
sleep 2
for round in $(seq "$rounds"); do
  for port in 18091 18092; do
    name=$([ "$port" = 18091 ] && echo "no shadow" || echo "shadow   ")
    rate=$(wrk -t1 -c"$connections" -d"${seconds}s" --latency -s benches/http/evaluate.lua \
      "http://127.0.0.1:$port/v1/evaluate" | awk '/Requests\/sec/ {print $2} /^ +99%/ {p99=$2} END {print p99}' | paste -sd' ')
    echo "round $round, $name: req/s p99 = $rate; $(uptime | sed 's/.*load/load/')"
  done
done
curl -s http://127.0.0.1:18092/metrics | grep '^dunner_shadow_divergences_total' || true
