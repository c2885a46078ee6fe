#!/usr/bin/env bash
# Builds the page collabd serves (frontend/ -> frontend/dist/ with Vite), installing its npm
# packages first if they are missing. Everything it needs is bundled: no CDN at run time.
set -euo pipefail
cd "$(dirname "$0")/../frontend"
[[ -d node_modules/vite && -d node_modules/chart.js ]] || npm ci --no-audit --no-fund --loglevel=error
npm run --silent build >/dev/null
echo "frontend: built frontend/dist"
