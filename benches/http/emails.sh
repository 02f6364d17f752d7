#!/usr/bin/env bash
# Email throughput of one daemon (SQLite ledger) to a local SMTP server (aiosmtpd,
# tests/smtp_sink.py): queues N payment reminders due at the same instant, then reports
# how fast they arrived (first to last message written by the sink).
# Usage: benches/http/emails.sh [N]
set -euo pipefail
n=${1:-2000}
dir=$(mktemp -d)
bin=target/release/dunner
db="sqlite://$dir/dunner.db"
mkdir "$dir/mail"
python3 tests/smtp_sink.py --port 0 --raw-only --out "$dir/mail" >"$dir/sink.out" 2>&1 &
sink=$!
sleep 1
port=$(sed -n 's/^ready //p' "$dir/sink.out")
cat >"$dir/dunner.toml" <<TOML
[smtp]
host = "127.0.0.1"
port = $port
tls = "none"
from = "Example Recovery <notices@recovery.example>"
pool_size = 32
TOML
token=$($bin keys create --name bench --scope record --scope decide --database "$db" 2>/dev/null | tail -1)
DUNNER_LOG=warn $bin --config "$dir/dunner.toml" serve --database "$db" --listen 127.0.0.1:18093 >"$dir/serve.log" 2>&1 &
daemon=$!
trap 'kill $daemon $sink 2>/dev/null; rm -rf "$dir"' EXIT
sleep 1.5
python3 - "$token" "$n" "$dir/mail" <<'PY'
import datetime, json, os, sys, time, urllib.request, concurrent.futures
token, n, mail = sys.argv[1], int(sys.argv[2]), sys.argv[3]
base = "http://127.0.0.1:18093"
def call(method, path, body):
    request = urllib.request.Request(base + path, data=json.dumps(body).encode(), method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        return response.status
# A Texas consumer (no city or state pack applies) with a fixed zone, so that the reminder is inside the window
# whenever the benchmark runs (the federal window is 8:00-21:00 local).
hour = datetime.datetime.now(datetime.timezone.utc).hour
zone = "Pacific/Honolulu" if 8 <= (hour - 10) % 24 < 20 else "Asia/Tokyo"
# 1,000 accounts, as a portfolio would have: every email sent is a contact in its
# account's ledger, which the next check reads.
accounts = [{"id": f"M-{i}", "balance": {"amount": "1842.17", "currency": "USD"},
     "consumer": {"address": {"state": "TX", "city": "El Paso"}, "time_zones": [zone],
                  "emails": [{"address": f"alex{i}@example.com", "kind": "personal"}]}} for i in range(1000)]
call("POST", "/v1/accounts/bulk", {"accounts": accounts})
due = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=8 + n / 500)).strftime("%Y-%m-%dT%H:%M:%SZ")
body = lambda i: {"account_id": f"M-{i % 1000}", "channel": "email", "template": "payment_reminder", "purpose": "payment_reminder",
        "not_before": due, "data": {"consumer_name": "Alex Doe", "amount_due": {"amount": "150", "currency": "USD"}, "due_date": "2026-12-01"}}

with concurrent.futures.ThreadPoolExecutor(16) as pool:
    statuses = list(pool.map(lambda i: call("POST", "/v1/notices", body(i)), range(n)))
print(f"queued {statuses.count(201)} emails due at {due}", flush=True)
deadline = time.time() + 300
while time.time() < deadline and len([f for f in os.listdir(mail) if f.endswith(".eml")]) < statuses.count(201):
    time.sleep(0.5)
times = sorted(os.path.getmtime(os.path.join(mail, f)) for f in os.listdir(mail) if f.endswith(".eml"))
span = times[-1] - times[0] if len(times) > 1 else 0
print(f"received {len(times)} in {span:.2f} s: {(len(times) - 1) / span if span else 0:.0f}/s", flush=True)
PY
