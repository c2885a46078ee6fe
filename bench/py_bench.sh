#!/usr/bin/env bash
# py_bench.sh: build collabd and collabd-py (build-release), install the peers' packages
# (bench/py-peers: pinned pyodide) and wrk if missing, then run bench/py_bench.mjs: POST
# /api/execute on collabd, on a python3-per-request Node server and on a Pyodide Node server,
# a side-by-side table on stdout, figures in bench/PYTHON_RESULTS.md. About 5 minutes.
#   bench/py_bench.sh [--quick]      (--quick: about 1.5 minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-release}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)" --target collabd collabd-py >/dev/null
if [ ! -f bench/py-peers/node_modules/pyodide/pyodide.asm.wasm ]; then
  (cd bench/py-peers && npm ci --no-audit --no-fund >/dev/null)
fi
if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y wrk >/dev/null ||
      { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y wrk >/dev/null; }
  else
    sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y wrk >/dev/null
  fi
fi
if [ ! -x /usr/bin/python3 ]; then echo "py_bench: peer (a) needs Debian's /usr/bin/python3" >&2; exit 1; fi
export BUILD_DIR="$PWD/$BUILD_DIR"
exec node bench/py_bench.mjs "$@"
