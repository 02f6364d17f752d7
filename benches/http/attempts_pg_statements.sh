#!/usr/bin/env bash
# Where PostgreSQL's CPU goes per recorded attempt, statement by statement: the attempts
# bench (attempts_pg.sh: a fresh database, 1,000 accounts in Texas, wrk posting letters)
# with `log_statement_stats` on for the bench's database only (each parse, bind and
# execute message logs its getrusage, with its statement), summed per statement from the
# server's log. The logging costs CPU itself: compare builds with this script, not with
# attempts_pg.sh's figures. Needs a superuser URL and read access to the server's log
# (PG_LOG, default Debian's). Set DUNNER_BIN to measure another build.
# Usage: benches/http/attempts_pg_statements.sh [connections] [seconds] [base URL without database]
set -euo pipefail
connections=${1:-64}
seconds=${2:-8}
log=${PG_LOG:-/var/log/postgresql/postgresql-15-main.log}
source benches/http/pg_lib.sh
pg_bench_start statements "${3:-}"
pg_serve_texas
psql "$db" -qc "ALTER DATABASE $name SET log_statement_stats = on" \
  -qc "ALTER DATABASE $name SET log_min_error_statement = log"
start=$(stat -c %s "$log")
echo "load before: $(uptime)"
DUNNER_KEY=$token wrk -t1 -c"$connections" -d"${seconds}s" -s benches/http/attempts.lua http://127.0.0.1:18081 | grep "Requests/sec"
recorded=$(psql "$db" -Atc "SELECT count(*) FROM events")
tail -c +$((start + 1)) "$log" >"$dir/statements.log"
python3 - "$dir/statements.log" "$recorded" <<'PY'
import collections, re, sys
recorded = max(int(sys.argv[2]), 1)
cpu, count = collections.Counter(), collections.Counter()
kind = used = None
for line in open(sys.argv[1], errors="replace"):
    m = re.search(r"LOG:  (\w+) (?:MESSAGE )?STATISTICS", line)
    if m:
        kind, used = m.group(1), None
        continue
    m = re.search(r"!\s+([\d.]+) s user, ([\d.]+) s system", line)
    if m and kind:
        used = float(m.group(1)) + float(m.group(2))
        continue
    m = re.search(r"STATEMENT:  (.*)", line)
    if m and kind and used is not None:
        key = (kind, " ".join(m.group(1).split())[:80])
        cpu[key] += used
        count[key] += 1
        kind = used = None
total = sum(cpu.values())
print(f"{recorded} attempts recorded; statements' CPU {total:.3f} s = {total / recorded * 1e6:.0f} µs per attempt")
print("   CPU s   times  µs each  µs/attempt  message  statement")
for key, used in cpu.most_common(15):
    print(f"{used:8.3f} {count[key]:7d} {used / count[key] * 1e6:8.1f} {used / recorded * 1e6:11.1f}  {key[0]:8s} {key[1]}")
PY
