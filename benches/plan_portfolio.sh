#!/usr/bin/env bash
# Times `dunner plan` on a generated portfolio: a week of the standard consumer
# strategy with the shipped packs. Usage: benches/plan_portfolio.sh [ACCOUNTS] [DIR]
# (default 1,000,000 accounts in /tmp/dunner-plan-bench; the files are kept for reruns).
set -euo pipefail
cd "$(dirname "$0")/.."
accounts=${1:-1000000}
dir=${2:-/tmp/dunner-plan-bench}
mkdir -p "$dir"
if [ ! -s "$dir/portfolio-$accounts.jsonl" ]; then
    python3 examples/generate_portfolio.py --accounts "$accounts" --seed 7 --as-of 2026-11-23 \
        --out-accounts "$dir/portfolio-$accounts.jsonl" --out-events "$dir/history-$accounts.jsonl"
fi
cargo build --release --quiet
/usr/bin/time -v target/release/dunner plan \
    --accounts "$dir/portfolio-$accounts.jsonl" --events "$dir/history-$accounts.jsonl" \
    --strategy strategies/standard-consumer.toml --from 2026-11-23 --days 7 \
    --out "$dir/schedule.csv" 2> "$dir/plan.log"
grep -E "^planned|Elapsed|Maximum resident|Percent of CPU|User time|System time" "$dir/plan.log"
