#!/bin/sh
# Installs axe-core, the accessibility engine the portal's Chromium test
# injects into its pages, into tools/browser/node_modules from the npm
# registry, at the version package-lock.json pins.
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
[ -f "$dir/node_modules/axe-core/axe.min.js" ] && exit 0
command -v npm >/dev/null || { echo "install-axe: npm is missing (apt-get install npm)" >&2; exit 1; }
cd "$dir" && npm ci --silent --no-audit --no-fund
