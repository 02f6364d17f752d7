#!/usr/bin/env bash
# Webhook delivery throughput of one daemon on a PostgreSQL ledger: benches/http/notices.sh
# with the ledger in a fresh database on the local server (dropped after).
# Usage: benches/http/notices_pg.sh [N] [base URL without database]
set -euo pipefail
source benches/http/pg_lib.sh
pg_fresh_database notices "${2:-}"
trap pg_drop_database EXIT
echo "load before: $(uptime)"
DUNNER_DATABASE=$db benches/http/notices.sh "${1:-5000}"
echo "load after: $(uptime)"
