#!/usr/bin/env bash
# promtool from Debian's prometheus package, unpacked under .cache/prometheus (not installed: the
# package would also bring a Prometheus server and its web assets, and start it where an init
# system runs). Prints promtool's path. Idempotent. The tests use it to check the alert rules
# (`promtool check rules`, `promtool test rules`) and the metrics files (`promtool check metrics`).
set -euo pipefail
cd "$(dirname "$0")/.."
dest=$PWD/.cache/prometheus
promtool=$dest/usr/bin/promtool
if [[ ! -x $promtool ]]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  (cd "$work" && apt-get download -qq prometheus 2>/dev/null || (apt-get update -qq && apt-get download -qq prometheus))
  rm -rf "$dest" && mkdir -p "$dest"
  dpkg-deb -x "$work"/prometheus_*.deb "$dest"
fi
"$promtool" --version >/dev/null
echo "$promtool"
