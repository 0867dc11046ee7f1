#!/usr/bin/env bash
# Prometheus, promtool and node_exporter from Debian's packages (prometheus,
# prometheus-node-exporter), unpacked under .cache/prometheus, not installed: installing would
# start both daemons where an init system runs. Prints promtool's path. Idempotent.
#   promtool: the alert rules (`check rules`, `test rules`) and the metrics files (`check metrics`);
#   prometheus and prometheus-node-exporter: copied onto the unknown_holder scenario's test host, where
#   they scrape the real vLLM and the guard's metrics (molecule/shared/monitoring.py).
set -euo pipefail
cd "$(dirname "$0")/.."
dest=$PWD/.cache/prometheus
bin=$dest/usr/bin
if [[ ! -x $bin/promtool || ! -x $bin/prometheus || ! -x $bin/prometheus-node-exporter ]]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  packages=(prometheus prometheus-node-exporter)
  (cd "$work" && { apt-get download -qq "${packages[@]}" 2>/dev/null ||
                   { apt-get update -qq && apt-get download -qq "${packages[@]}"; }; })
  rm -rf "$dest" && mkdir -p "$dest"
  for deb in "$work"/*.deb; do dpkg-deb -x "$deb" "$dest"; done
fi
"$bin/promtool" --version >/dev/null
"$bin/prometheus-node-exporter" --version >/dev/null 2>&1
echo "$bin/promtool"
