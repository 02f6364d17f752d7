#!/usr/bin/env bash
# Instructions per decision on the issue 15 workload, for the prepared-Subject path and
# engine::decide: (Ir(3000 decisions) - Ir(1000)) / 2000 under valgrind --tool=callgrind.
# The harness's setup is the same whatever N, so the difference is the decisions alone.
# Usage: benches/callgrind.sh   (builds the example in release first)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --example workload_decisions >&2
bin=target/release/examples/workload_decisions
out=$(mktemp -d /tmp/dunner-callgrind.XXXXXX)
trap 'rm -rf "$out"' EXIT
ir() { # mode n
    valgrind --tool=callgrind --callgrind-out-file="$out/$1.$2" "$bin" "$2" "$1" \
        2>"$out/$1.$2.log" >/dev/null
    grep -E '^summary:|^totals:' "$out/$1.$2" | head -n1 | awk '{print $2}'
}
for mode in subject decide; do
    low=$(ir "$mode" 1000)
    high=$(ir "$mode" 3000)
    echo "$mode: Ir(1000)=$low Ir(3000)=$high instructions/decision=$(( (high - low) / 2000 ))"
done
