#!/usr/bin/env bash
# The dashboard's browser packages (the charting library), pinned by package-lock.json and
# installed with `npm ci`; Debian's nodejs/npm are installed first when missing.
set -euo pipefail
cd "$(dirname "$0")/../../services/analytics/web"
export DEBIAN_FRONTEND=noninteractive

if ! command -v npm >/dev/null 2>&1; then
    run_as_root=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || { echo "Please install nodejs and npm" >&2; exit 1; }
        run_as_root=(sudo)
    fi
    "${run_as_root[@]}" apt-get update -qq
    "${run_as_root[@]}" apt-get install -y -qq --no-install-recommends nodejs npm
fi

# Up to date when npm's own record of the install matches the lock file.
if [ -f node_modules/.package-lock.json ] \
    && [ node_modules/.package-lock.json -nt package-lock.json ]; then
    exit 0
fi
npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
