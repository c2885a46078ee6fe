#!/usr/bin/env bash
# collab_bench.sh: build collabd, doc_bench and loadgen (build-release), install the peers'
# packages (git-ignored node_modules, from the committed locks), then run bench/collab_bench.mjs:
# the same load against collabd (memory, Redis, two instances on one Redis), the Node authority,
# y-websocket and Hocuspocus; side-by-side tables on stdout, figures in bench/RESULTS.md.
# About 24 minutes (--quick: 5).
#   bench/collab_bench.sh [--quick] [--runs N] [--only collabd,node,...]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-release}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)" --target collabd doc_bench loadgen >/dev/null
if [ ! -d bench/node-authority/node_modules/@codemirror/collab ]; then
  (cd bench/node-authority && npm install --no-audit --no-fund >/dev/null)
fi
if [ ! -d bench/yjs-peers/node_modules/@hocuspocus/server ]; then
  (cd bench/yjs-peers && npm ci --no-audit --no-fund >/dev/null)
fi
command -v redis-server >/dev/null || echo "warning: no redis-server: collabd Redis will not start" >&2
# 10,000 idle connections need more descriptors than the usual 1024 (server and loadgen each).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" -lt 10500 ]; then echo "warning: ulimit -n is $(ulimit -n); idle memory needs 10,500" >&2; fi
export BUILD_DIR="$PWD/$BUILD_DIR"
exec node bench/collab_bench.mjs "$@"
