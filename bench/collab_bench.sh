#!/usr/bin/env bash
# collab_bench.sh: build collabd, doc_bench and loadgen (build-release), install the Node peer's
# packages, then run bench/collab_bench.mjs: the same load against collabd and the Node authority,
# a side-by-side table on stdout, figures in bench/RESULTS.md. About 5 minutes.
#   bench/collab_bench.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-release}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)" --target collabd doc_bench loadgen >/dev/null
if [ ! -d bench/node-authority/node_modules/@codemirror/collab ]; then
  (cd bench/node-authority && npm install --no-audit --no-fund >/dev/null)
fi
# 10,000 idle connections need more descriptors than the usual 1024 (server and loadgen each).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" -lt 10500 ]; then echo "warning: ulimit -n is $(ulimit -n); (c) needs 10,500" >&2; fi
export BUILD_DIR="$PWD/$BUILD_DIR"
exec node bench/collab_bench.mjs "$@"
