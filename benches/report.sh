#!/usr/bin/env bash
# Times `dunner report summary` over a SQLite ledger of 1,000,000 accounts and about
# 10,100,000 events (issue #5: at most 10 s on the 2-core machine), with peak RSS.
#
#   benches/report.sh [DIR]      # default: $TMPDIR or /tmp, in dunner-report-bench/
#
# The ledger is built once with benches/http/fill_ledger.py (about 6 GB and five
# minutes; delete DIR afterwards): events over the 60 days before 2026-04-07, 2% of the
# accounts on a legal hold, 5% with a promise to pay, about two logged decisions per
# account. The report covers those 60 days, so every event is read: contacts by channel
# and day, right-party contacts, refusals over the decision log, holds and aging over
# every account, promises, the accounts at or near each cap (asked of the engine), and
# one account's heat map. The file is read once first, as the ledger of a running
# daemon would be in the page cache.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-${TMPDIR:-/tmp}/dunner-report-bench}
db=$dir/ledger.db
cargo build --release --quiet
if [ ! -f "$db" ]; then
    mkdir -p "$dir"
    target/release/dunner migrate --database "sqlite://$db"
    python3 benches/http/fill_ledger.py --accounts 1000000 --events-per-account 10 \
        --holds-rate 0.02 --promises-rate 0.05 --decisions-per-account 2 --out "$db"
fi
cat "$db" > /dev/null
for format in json html; do
    out=$dir/summary.$format
    /usr/bin/time -v target/release/dunner report summary --database "sqlite://$db" \
        --rules rules --from 2026-02-06 --to 2026-04-06 --account A-0000007 \
        --format "$format" --out "$out" 2> "$dir/time.txt"
    grep -E "^wrote" "$dir/time.txt"
    grep -E "Elapsed \(wall|Maximum resident|User time|System time" "$dir/time.txt" | sed 's/^\s*/    /'
done
echo "load average while measuring: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) cores"
