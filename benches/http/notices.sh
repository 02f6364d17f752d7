#!/usr/bin/env bash
# Webhook delivery throughput of one daemon (SQLite ledger) to a local receiver: queues
# N notices due at the same instant (`not_before` a few seconds ahead), then the receiver
# reports how fast they arrived. Usage: benches/http/notices.sh [N]
# (DUNNER_DATABASE picks another ledger: benches/http/notices_pg.sh runs it on PostgreSQL.)
set -euo pipefail
n=${1:-5000}
dir=$(mktemp -d)
bin=target/release/dunner
db=${DUNNER_DATABASE:-"sqlite://$dir/dunner.db"}
python3 benches/http/receiver.py 18092 >"$dir/receiver.log" 2>&1 &
receiver=$!
cat >"$dir/dunner.toml" <<TOML
[[webhooks]]
name = "bench"
url = "http://127.0.0.1:18092/hooks"
secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
event_types = ["account.escalated"]
TOML
token=$($bin keys create --name bench --scope record --scope decide --database "$db" 2>/dev/null | tail -1)
DUNNER_LOG=warn $bin --config "$dir/dunner.toml" serve --database "$db" --listen 127.0.0.1:18091 >"$dir/serve.log" 2>&1 &
daemon=$!
trap 'kill $daemon $receiver 2>/dev/null; rm -rf "$dir"' EXIT
sleep 1.5
python3 - "$token" "$n" <<'PY'
import datetime, json, sys, urllib.request, concurrent.futures
token, n = sys.argv[1], int(sys.argv[2])
base = "http://127.0.0.1:18091"
def call(method, path, body):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return response.status
# 1,000 accounts, as a portfolio would have: every delivery is recorded in its
# account's ledger (webhook_delivered), which the next check of that account reads.
call("POST", "/v1/accounts/bulk", {"accounts": [{"id": f"W-{i}", "consumer": {"address": {"state": "NY"}}} for i in range(1000)]})
due = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=8 + n / 1000)).strftime("%Y-%m-%dT%H:%M:%SZ")
body = lambda i: {"account_id": f"W-{i % 1000}", "channel": "webhook", "event_type": "account.escalated", "not_before": due}
with concurrent.futures.ThreadPoolExecutor(16) as pool:
    statuses = list(pool.map(lambda i: call("POST", "/v1/notices", body(i)), range(n)))
print(f"queued {statuses.count(201)} notices due at {due}", flush=True)
PY
python3 - "$token" "$n" <<'PY'
import json, sys, time, urllib.request
token, n = sys.argv[1], int(sys.argv[2])
request = lambda: urllib.request.Request("http://127.0.0.1:18091/v1/notices?status=delivered&limit=1000",
    headers={"Authorization": f"Bearer {token}"})
deadline = time.time() + 120
while time.time() < deadline:
    with urllib.request.urlopen(request()) as response:
        pending = urllib.request.urlopen(urllib.request.Request("http://127.0.0.1:18091/v1/notices?status=pending&limit=1",
            headers={"Authorization": f"Bearer {token}"})).read()
    if pending == b"[]":
        break
    time.sleep(0.5)
PY
kill -INT $receiver; wait $receiver 2>/dev/null || true
cat "$dir/receiver.log"
