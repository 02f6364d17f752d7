#!/usr/bin/env bash
# Times `dunner plan` on a generated portfolio: a week of the standard consumer
# strategy with the shipped packs. Usage: benches/plan_portfolio.sh [ACCOUNTS] [DIR]
# (default 1,000,000 accounts in /tmp/dunner-plan-bench; the files are kept for reruns:
# 10,000,000 accounts take 11.4 GB and about 10 minutes of one core to generate).
# DUNNER=path/to/dunner times another build (e.g. main's, for a ratio in the same run);
# the machine's load is printed before and after, as the figures depend on it.
set -euo pipefail
cd "$(dirname "$0")/.."
accounts=${1:-1000000}
dir=${2:-/tmp/dunner-plan-bench}
mkdir -p "$dir"
if [ ! -s "$dir/portfolio-$accounts.jsonl" ]; then
    python3 examples/generate_portfolio.py --accounts "$accounts" --seed 7 --as-of 2026-11-23 \
        --out-accounts "$dir/portfolio-$accounts.jsonl" --out-events "$dir/history-$accounts.jsonl"
fi
if [ -z "${DUNNER:-}" ]; then
    cargo build --release --quiet --bin dunner
fi
dunner=${DUNNER:-target/release/dunner}
echo "load before: $(uptime)"
/usr/bin/time -v "$dunner" plan \
    --accounts "$dir/portfolio-$accounts.jsonl" --events "$dir/history-$accounts.jsonl" \
    --strategy strategies/standard-consumer.toml --from 2026-11-23 --days 7 \
    --out "$dir/schedule-$accounts.csv" 2> "$dir/plan.log"
echo "load after:  $(uptime)"
grep -E "^planned|in memory|Elapsed|Maximum resident|Percent of CPU|User time|System time" "$dir/plan.log"
