#!/usr/bin/env bash
# Debian packages the tests need, installed only when missing (as root, or through sudo).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

# One "command:package" pair per line.
APT_NEEDS=(
    "pg_ctlcluster:postgresql"  # deal-pipeline tests run on PostgreSQL too (initdb is off PATH)
    "chromium:chromium"         # the embed-script test drives a real browser
    "promtool:prometheus"       # alert rules are checked and fired by a real Prometheus
    "wrk:wrk"                   # make bench drives the HTTP paths with it
)

missing=()
for pair in "${APT_NEEDS[@]}"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

run_as_root=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        run_as_root=(sudo)
    else
        echo "Please install: ${missing[*]} (apt-get install ${missing[*]})" >&2
        exit 1
    fi
fi
"${run_as_root[@]}" apt-get update -qq
"${run_as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
