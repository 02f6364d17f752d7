#!/usr/bin/env bash
# Schemathesis against the real daemon (issue 10, "No request can stop the daemon"): every
# operation of the served /openapi.json fuzzed with all of schemathesis' checks, once on a
# fresh SQLite file and once on a fresh PostgreSQL database.
#
# Run it from anywhere in the checkout:
#
#     .ci/schemathesis.sh                      # both stores, about 4 minutes
#     STORES=sqlite .ci/schemathesis.sh        # one store
#     MAX_TIME=60 MAX_EXAMPLES=20 .ci/schemathesis.sh   # a quicker pass
#
# What it needs:
#   - the Rust toolchain (it runs `cargo build --bin dunner`; set DUNNER_BIN to use another
#     binary);
#   - python3 with the venv module and PyPI: schemathesis (pinned below) is installed once
#     into target/schemathesis-venv;
#   - for the PostgreSQL run, the server at 127.0.0.1:5432 with trust auth and `psql` on the
#     PATH; PG_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/test) is where a fresh
#     database is created, and dropped at the end.
#
# For each store it migrates the ledger, imports examples/accounts.jsonl and
# examples/events.jsonl (so the account ids in the paths exist and requests reach the
# engine and the ledger), creates a key with every scope, starts `dunner serve` on a free
# port (with the shipped strategies, so GET …/plan plans; the scheduler stays off) and runs
# `schemathesis run --checks all` with the key. What it generates is steered a little:
#   - account ids in paths and queries come 80% from the imported accounts;
#   - 5% of generated strings and integers are odd values (instants past year 9999 and
#     before year 0, NUL characters, padded and empty ids, numbers past i64);
#   - 20% of `at`, `history[].at`, `from`, `since` and `until` are instants at or past the
#     edges of chrono's range.
# Each store is bounded by --max-time (MAX_TIME seconds, default 120) plus a hard
# wall-clock limit; both stores take about 4 minutes here.
#
# Exit status: 0 when schemathesis found nothing on every store and the daemon was still
# alive, ready, deciding and recording at the end (three probes after the run); 1
# otherwise. Logs, the daemon's stderr and schemathesis' reports are kept
# in target/schemathesis/<store>/. No daemon is left running, whatever happens.
set -euo pipefail

SCHEMATHESIS_VERSION=4.32.5
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STORES="${STORES:-sqlite postgres}"
MAX_TIME="${MAX_TIME:-120}"
MAX_EXAMPLES="${MAX_EXAMPLES:-50}"
WORKERS="${WORKERS:-2}"
PYTHON="${PYTHON:-$(for v in 3.13 3.12; do
    for candidate in "python$v" "$HOME/.pyenv/versions/$v"*/bin/python3; do
        if command -v "$candidate" > /dev/null 2>&1 && "$candidate" --version > /dev/null 2>&1; then
            echo "$candidate"; exit 0
        fi
    done
done; echo python3)}"
SEED="${SEED:-10}"
PG_ADMIN_URL="${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/test}"
OUT="$ROOT/target/schemathesis"
VENV="$ROOT/target/schemathesis-venv"

DAEMON_PID=""
SCHEMATHESIS_PID=""
PG_DATABASE=""
STORE_PID=""

# Stops what this (sub)shell started. Everything runs in the background and is waited for,
# so that a signal interrupts the wait at once instead of after the foreground command.
cleanup() {
    if [ -n "$SCHEMATHESIS_PID" ]; then
        kill -TERM "$SCHEMATHESIS_PID" 2> /dev/null || true # `timeout` passes it on
        wait "$SCHEMATHESIS_PID" 2> /dev/null || true
        SCHEMATHESIS_PID=""
    fi
    if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2> /dev/null; then
        kill -TERM "$DAEMON_PID" 2> /dev/null || true
        for _ in $(seq 50); do
            kill -0 "$DAEMON_PID" 2> /dev/null || break
            sleep 0.1
        done
        kill -KILL "$DAEMON_PID" 2> /dev/null || true
        wait "$DAEMON_PID" 2> /dev/null || true
    fi
    DAEMON_PID=""
    if [ -n "$PG_DATABASE" ]; then
        psql "$PG_ADMIN_URL" -q -c "DROP DATABASE IF EXISTS \"$PG_DATABASE\" WITH (FORCE)" \
            > /dev/null 2>&1 || true
        PG_DATABASE=""
    fi
}
trap cleanup EXIT
# The store's subshell ignores SIGINT (a background job of a script): pass both on as TERM.
trap 'if [ -n "$STORE_PID" ]; then kill -TERM "$STORE_PID" 2> /dev/null; wait "$STORE_PID"; fi; exit 130' INT TERM

echo "== schemathesis $SCHEMATHESIS_VERSION in $VENV"
if ! "$VENV/bin/schemathesis" --version 2> /dev/null | grep -q "version $SCHEMATHESIS_VERSION\$"; then
    # CPython 3.11's ast module fails under schemathesis' worker threads ("AST constructor
    # recursion depth mismatch"); a newer Python is used when the machine has one.
    "$PYTHON" -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

if [ -z "${DUNNER_BIN:-}" ]; then
    echo "== cargo build --bin dunner"
    (cd "$ROOT" && cargo build --quiet --bin dunner)
    DUNNER_BIN="$ROOT/target/debug/dunner"
fi

# The account ids of the placement file: what the paths and queries mostly use.
ACCOUNT_IDS="$(python3 -c '
import json, sys
ids = [json.loads(line)["id"] for line in open(sys.argv[1]) if line.strip()]
print(", ".join(json.dumps(i) for i in ids))
' "$ROOT/examples/accounts.jsonl")"

# Runs one store, in a background subshell of its own (so `set -e` holds inside it and
# its trap stops its daemon); exits with schemathesis' status, or 1 when the daemon died
# or no longer answers.
run_store() {
    trap cleanup EXIT
    trap 'exit 130' INT TERM
    local store="$1" dir="$OUT/$1" database
    rm -rf "$dir"
    mkdir -p "$dir"
    case "$store" in
        sqlite) database="sqlite://$dir/dunner.db" ;;
        postgres)
            PG_DATABASE="dunner_schemathesis_$$_$RANDOM"
            psql "$PG_ADMIN_URL" -q -v ON_ERROR_STOP=1 -c "CREATE DATABASE \"$PG_DATABASE\"" > /dev/null
            database="${PG_ADMIN_URL%/*}/$PG_DATABASE"
            ;;
        *)
            echo "unknown store \`$store\` (sqlite or postgres)" >&2
            return 1
            ;;
    esac

    echo "== [$store] migrate, import the examples, create a key with every scope"
    # The working directory is the run's own, so no dunner.toml of the checkout applies.
    cd "$dir"
    "$DUNNER_BIN" migrate --database "$database"
    "$DUNNER_BIN" import --database "$database" \
        "$ROOT/examples/accounts.jsonl" "$ROOT/examples/events.jsonl"
    local token
    token="$("$DUNNER_BIN" keys create --name schemathesis --database "$database" \
        --scope decide --scope record --scope admin)"

    echo "== [$store] dunner serve"
    : > "$dir/daemon.log" # exists before the daemon opens it: the loop below reads it at once
    # The shipped strategies, so GET /v1/accounts/{id}/plan plans (the scheduler stays off).
    DUNNER_SCHEDULER_STRATEGIES="$ROOT/strategies/standard-consumer.toml,$ROOT/strategies/payment-plan-reminders.toml" \
        "$DUNNER_BIN" serve --listen 127.0.0.1:0 --database "$database" --rules "$ROOT/rules" \
        2> "$dir/daemon.log" &
    DAEMON_PID=$!
    local address=""
    for _ in $(seq 300); do
        address="$(sed -n 's|.*listening on http://\([^ ]*\).*|\1|p' "$dir/daemon.log" | head -n 1 || true)"
        [ -n "$address" ] && break
        kill -0 "$DAEMON_PID" 2> /dev/null || break
        sleep 0.1
    done
    if [ -z "$address" ]; then
        echo "the daemon did not start:" >&2
        cat "$dir/daemon.log" >&2
        return 1
    fi
    echo "listening on $address"

    # Odd values (issue 10's bugs: instants at and beyond chrono's range, NUL characters,
    # empty and padded ids, numbers past i64) replace a small share of generated strings and
    # integers, so the fuzzer reaches them within its budget.
    cat > "$dir/schemathesis.toml" << EOF
[dictionaries.odd-strings]
values = [
    "-262143-01-01T00:00:00Z", "+10000-01-01T00:00:00Z", "+262142-12-31T23:59:59Z",
    "9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z", "-262143-01-01", "+10000-01-01",
    "9999-12-31", "\\u0000", "a\\u0000b", "A-1001\\u0000", " A-1001", "A-1001 ", "",
    "99999999999999999999999", "-1",
]

[dictionaries.odd-integers]
values = [0, -1, 2147483648, 4294967296, 9223372036854775807, -9223372036854775808]

[generation.dictionaries]
string = { dictionary = "odd-strings", probability = 0.05 }
integer = { dictionary = "odd-integers", probability = 0.05 }

# Instants at and beyond chrono's range in the fields that reach the engine and the ledger.
[dictionaries.odd-instants]
values = [
    "-262143-01-01T00:00:00Z", "+262142-12-31T23:59:59Z", "+10000-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z", "0000-01-01T00:00:00Z",
]

[parameters]
"body.at" = { dictionary = "odd-instants", probability = 0.2 }
"body.history[*].at" = { dictionary = "odd-instants", probability = 0.2 }
"query.from" = { dictionary = "odd-instants", probability = 0.2 }
"query.since" = { dictionary = "odd-instants", probability = 0.2 }
"query.until" = { dictionary = "odd-instants", probability = 0.2 }

[dictionaries.accounts]
values = [$ACCOUNT_IDS]

[[operations]]
include-path-regex = "^/v1/accounts/\\\\{id\\\\}"
parameters = { "path.id" = { dictionary = "accounts", probability = 0.8 } }

[[operations]]
include-path = "/v1/decisions"
parameters = { "query.account_id" = { dictionary = "accounts", probability = 0.8 }, "body.account_id" = { dictionary = "accounts", probability = 0.8 } }

[[operations]]
include-path = "/v1/reports/{name}"
parameters = { "query.account" = { dictionary = "accounts", probability = 0.8 } }

# Rules across fields, which JSON Schema states only with a oneOf per variant that the
# document does not carry: an inconvenient time's \`from\` before its \`to\` (accounts,
# evaluate), the fields each event type allows (events), the template an email notice
# needs (notices), the body's id equal to the path's (PUT), a report's \`from\` before its
# \`to\` within 366 days (reports, the audit), and an \`Idempotency-Key\` already used with
# another request (attempts, outcomes, events, decisions, bulk: the fuzzer reuses keys). A
# schema-valid request there may be refused with the field named, so for these ten
# operations only, positive data acceptance also takes a
# 400 or a 422 (never a 5xx); every other check, negative data rejection included, stays
# as it is everywhere.
[[operations]]
include-name = ["PUT /v1/accounts/{id}", "POST /v1/accounts/bulk", "POST /v1/evaluate", "POST /v1/accounts/{id}/events", "POST /v1/accounts/{id}/attempts", "POST /v1/accounts/{id}/attempts/{attempt_id}/outcome", "POST /v1/decisions", "POST /v1/notices", "GET /v1/reports/{name}", "GET /v1/audit", "GET /v1/decisions", "GET /v1/reports/shadow", "POST /v1/holds", "POST /v1/purges"]
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "401", "403", "404", "409", "422", "429"]
EOF

    echo "== [$store] schemathesis run (at most ${MAX_TIME}s)"
    local status=0
    : > "$dir/schemathesis.log"
    timeout --kill-after=10 "$((MAX_TIME + 60))" \
        "$VENV/bin/schemathesis" --no-color --config-file "$dir/schemathesis.toml" run \
        "http://$address/openapi.json" \
        --checks all \
        --header "Authorization: Bearer $token" \
        --max-examples "$MAX_EXAMPLES" \
        --max-time "$MAX_TIME" \
        --workers "$WORKERS" \
        --seed "$SEED" \
        --request-timeout 10 \
        --report junit,ndjson --report-dir "$dir" \
        > "$dir/schemathesis.log" 2>&1 &
    SCHEMATHESIS_PID=$!
    tail -n +1 -f --pid="$SCHEMATHESIS_PID" "$dir/schemathesis.log" &
    local tail_pid=$!
    wait "$SCHEMATHESIS_PID" || status=$?
    SCHEMATHESIS_PID=""
    wait "$tail_pid" || true

    # "No request can stop the daemon": after all that, it is still ready, still decides
    # and still records (a dead writer task answers 503 while the process lives on).
    echo "== [$store] the daemon still answers"
    if ! python3 - "$address" "$token" << 'PY'; then
import json, sys, urllib.error, urllib.request

address, token = sys.argv[1], sys.argv[2]
probes = [
    ("GET", "/readyz", None, {200}),
    ("POST", "/v1/decisions", {"account_id": "A-1001", "channel": "letter"}, {200}),
    ("POST", "/v1/accounts/A-1001/attempts", {"channel": "letter"}, {201, 409}),
]
failed = False
for method, path, body, expected in probes:
    request = urllib.request.Request(
        f"http://{address}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, text = response.status, response.read()[:300]
    except urllib.error.HTTPError as error:
        status, text = error.code, error.read()[:300]
    except OSError as error:
        status, text = None, repr(error).encode()
    print(f"{method} {path} -> {status} {text.decode(errors='replace')}")
    failed |= status not in expected
sys.exit(1 if failed else 0)
PY
        echo "[$store] the daemon no longer answers as it should" >&2
        status=1
    fi

    if ! kill -0 "$DAEMON_PID" 2> /dev/null; then
        echo "[$store] the daemon died during the run:" >&2
        tail -n 30 "$dir/daemon.log" >&2
        status=1
    fi
    return "$status"
}

failed=()
for store in $STORES; do
    (
        set -e
        run_store "$store"
    ) &
    STORE_PID=$!
    status=0
    wait "$STORE_PID" || status=$?
    STORE_PID=""
    if [ "$status" -ne 0 ]; then
        failed+=("$store")
    fi
done
if [ "${#failed[@]}" -gt 0 ]; then
    echo "schemathesis failed on: ${failed[*]} (logs in $OUT)" >&2
    exit 1
fi
echo "schemathesis found nothing on: $STORES"
