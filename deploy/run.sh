#!/usr/bin/env bash
# The README's run command: installs what is missing, builds collabd (Release), and starts it
# with the in-memory store on the printed URL. Extra arguments go to collabd
# (e.g. deploy/run.sh --port 9000 --host 0.0.0.0; see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j"$(nproc)" --target collabd
deploy/build-frontend.sh
static=frontend/dist
exec ./build-release/server/collabd --static-dir "$static" --protocol-dir protocol "$@"
