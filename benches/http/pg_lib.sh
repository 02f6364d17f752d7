# Shared by the PostgreSQL benches (source it): a fresh database on the local server for
# one run, dropped at the end, and the 1,000 accounts in Texas the attempt and decision
# benches write for (no cap of the shipped packs refuses a letter in Texas, so every
# attempt is a 201; setup.py's New York accounts meet New York City's 2-in-7-days rule).

# Creates database wt_pg_bench_<what>_<pid> on server $2 (default the local one); sets
# `server`, `name` and `db` (its URL, with the connection parameters of
# `PG_PARAMS`, e.g. `?sslmode=disable`, for the daemon, psql and pgbench alike).
pg_fresh_database() {
  server=${2:-postgres://root@127.0.0.1:5432}
  name="wt_pg_bench_$1_$$"
  db="$server/$name${PG_PARAMS:-}"
  psql "$server/test" -qc "CREATE DATABASE $name" >/dev/null
}

pg_drop_database() {
  psql "$server/test" -qc "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null || true
}

# A fresh database (as pg_fresh_database $1 $2), a scratch directory `dir`, the binary
# `bin` (DUNNER_BIN, else this checkout's release build) and an exit trap that stops
# the daemon whose pid the bench puts in `daemon`, drops the database and removes `dir`.
pg_bench_start() {
  pg_fresh_database "$1" "$2"
  dir=$(mktemp -d)
  bin=${DUNNER_BIN:-target/release/dunner}
  daemon=
  trap pg_bench_cleanup EXIT
}

pg_bench_cleanup() {
  [ -n "$daemon" ] && kill "$daemon" 2>/dev/null && wait "$daemon" 2>/dev/null
  pg_drop_database
  rm -rf "$dir"
}

# Starts the daemon on the bench's database at 127.0.0.1:18081 (its pid in `daemon`) with
# a key of the `record` scope (in `token`), and creates the Texas accounts through it.
pg_serve_texas() {
  token=$($bin keys create --name bench --scope record --database "$db" 2>/dev/null | tail -1)
  DUNNER_LOG=warn $bin serve --database "$db" --listen 127.0.0.1:18081 >"$dir/serve.log" 2>&1 &
  daemon=$!
  sleep 1.5
  texas_accounts http://127.0.0.1:18081 "$token"
}

# Creates L-0 … L-999 in Texas through the daemon at $1 with the token $2.
texas_accounts() {
  python3 - "$1" "$2" <<'PY'
import json, sys, urllib.request
accounts = [{"id": f"L-{i}", "consumer": {"address": {"state": "TX"}, "time_zones": ["America/Chicago"]},
             "balance": {"amount": "100.00", "currency": "USD"}} for i in range(1000)]
request = urllib.request.Request(sys.argv[1] + "/v1/accounts/bulk", method="POST",
    data=json.dumps({"accounts": accounts}).encode(),
    headers={"Authorization": f"Bearer {sys.argv[2]}", "Content-Type": "application/json"})
urllib.request.urlopen(request).read()
PY
}
