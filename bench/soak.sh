#!/usr/bin/env bash
# soak.sh: the convergence proof of tests/integration/convergence.test.mjs, run far longer than the
# suite runs it: real @codemirror/collab editors with random edits, latency, disconnects and
# reconnects against the release build, checking after every run that every editor and the server
# hold the same text and that every edit was accepted exactly once. Prints node's test summary.
#   bench/soak.sh [RUNS [EDITORS [EDITS]]]      defaults: 500 runs of 16 editors x 400 edits
# Needs what tests/run.sh installs (it installs tests/node_modules if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-500} editors=${2:-16} edits=${3:-400}
cmake --preset release >/dev/null
cmake --build build-release -j"$(nproc)" --target collabd >/dev/null
(cd tests && { [[ -d node_modules/ws ]] || npm ci --no-audit --no-fund --loglevel=error; })
echo "soak: $runs runs of $editors editors x $edits edits against build-release" >&2
cd tests
exec env COLLABD_BIN="$PWD/../build-release/server/collabd" CONVERGENCE_RUNS="$runs" \
  CONVERGENCE_EDITORS="$editors" CONVERGENCE_EDITS="$edits" \
  node --test integration/convergence.test.mjs
