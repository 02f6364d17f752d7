#!/usr/bin/env bash
# Instructions per account of `dunner plan` (the arguments of benches/plan_portfolio.sh:
# the standard consumer strategy, a week from 2026-11-23) under valgrind --tool=callgrind:
# (Ir(6000 accounts) - Ir(2000)) / 4000, so the start-up (strategy, packs, threads) cancels.
# Deterministic whatever the machine's load, unlike the timed benchmark.
# Usage: benches/plan_callgrind.sh [DIR]   (DUNNER=path/to/dunner measures another build;
# KEEP=1 keeps the callgrind files in DIR for callgrind_annotate; BLOCK_BYTES=262144
# reads the files in blocks of that size, as a large portfolio is, rather than whole:
# the first block's buffer growing, which the default size leaves in the difference,
# then cancels too)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-/tmp/dunner-plan-callgrind}
mkdir -p "$dir"
if [ -z "${DUNNER:-}" ]; then
    cargo build --release --quiet --bin dunner
fi
dunner=${DUNNER:-target/release/dunner}
ir() { # accounts
    local n=$1
    if [ ! -s "$dir/portfolio-$n.jsonl" ]; then
        python3 examples/generate_portfolio.py --accounts "$n" --seed 7 --as-of 2026-11-23 \
            --out-accounts "$dir/portfolio-$n.jsonl" --out-events "$dir/history-$n.jsonl"
    fi
    valgrind --tool=callgrind --callgrind-out-file="$dir/callgrind.$n" "$dunner" plan \
        --accounts "$dir/portfolio-$n.jsonl" --events "$dir/history-$n.jsonl" \
        --strategy strategies/standard-consumer.toml --from 2026-11-23 --days 7 \
        --out "$dir/schedule-$n.csv" ${BLOCK_BYTES:+--block-bytes "$BLOCK_BYTES"} \
        >"$dir/plan-$n.log" 2>&1
    # One file sums every thread's instructions.
    grep -E '^summary:|^totals:' "$dir/callgrind.$n" | head -n1 | awk '{print $2}'
}
low=$(ir 2000)
high=$(ir 6000)
echo "Ir(2000)=$low Ir(6000)=$high instructions/account=$(( (high - low) / 4000 ))"
if [ -z "${KEEP:-}" ]; then
    rm -f "$dir"/callgrind.*
fi
