#!/usr/bin/env bash
# Renders an HTML report of `dunner report` to a PNG with headless Chromium (Debian's
# `chromium` package: apt-get install -y --no-install-recommends chromium), to look at it
# the way a reader's browser shows it. The page must draw from what it carries: the
# browser is given no network (a proxy that refuses every connection).
#
#   benches/report_screenshot.sh report.html [report.png] [WIDTH,HEIGHT]
#
# e.g. target/release/dunner report summary --account A-0000001 --out /tmp/r.html
#      benches/report_screenshot.sh /tmp/r.html /tmp/r.png 1280,6000
set -euo pipefail
if [ $# -lt 1 ]; then
    sed -n '2,11p' "$0"
    exit 2
fi
html=$(realpath "$1")
out=${2:-${1%.html}.png}
size=${3:-1280,2400}
chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ]; then
    echo "chromium is not installed: apt-get install -y --no-install-recommends chromium" >&2
    exit 1
fi
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
HOME=$home "$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --proxy-server=127.0.0.1:9 --window-size="$size" --screenshot="$out" "file://$html" \
    2>/dev/null
echo "rendered $html to $out ($size)"
