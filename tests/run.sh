#!/usr/bin/env bash
# The README's test command (and what .ci/run calls): installs what is missing, checks the
# formatting and the banned-function list, builds collabd twice (normal, and ASan+UBSan),
# and runs every test against both builds: ctest unit tests, then node's test runner driving
# the real server over HTTP and WebSocket. Exits non-zero on the first failing stage.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
jobs=$(nproc)
stage() { printf '\n==== %s ====\n' "$*"; }

stage "dependencies"
deploy/install-deps.sh --test
(cd tests && { [[ -d node_modules/playwright-core && -d node_modules/parse-prometheus-text-format ]] || npm ci --no-audit --no-fund --loglevel=error; })
deploy/build-frontend.sh

stage "protocol: every schema, example and OpenAPI document checked"
(cd tests && node ../protocol/check.mjs)

stage "style: clang-format and banned functions"
mapfile -t csrc < <(git ls-files -co --exclude-standard 'server/*.c' 'server/*.h' 'tests/unit/*.c' 'tests/unit/*.h' 'tests/fuzz/*.c' 'bench/*.c' | sort -u)
clang-format --dry-run -Werror "${csrc[@]}"
if grep -rnE '\b(sprintf|vsprintf|strcpy|strcat|strncpy|atoi|atol|strtok|gets)\s*\(' server bench tests/unit tests/fuzz --include='*.c' --include='*.h'; then
  echo "banned function used (see STYLE.md rule 8)" >&2
  exit 1
fi

stage "build (release, as deploy/run.sh builds it)"
cmake --preset release >/dev/null
cmake --build build-release -j"$jobs" --target collabd

for variant in normal asan; do
  dir=build
  flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
  if [[ $variant == asan ]]; then
    dir=build-asan
    flags=(-DCMAKE_BUILD_TYPE=Debug -DCOLLABD_SANITIZE=ON)
    export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1
    export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
    # The ASan build is about ten times slower. At full speed (~5,000 edits/s) an editor that
    # falls behind keeps re-pushing its 100 unconfirmed updates at a base ~900 versions old;
    # each such push is rebased over every newer update (0.5 s under ASan, 99 of the 100 then
    # dropped as already accepted), which slows the server further, and the run misses its
    # 30 s settle deadline although every edit lands in the end (traced: nothing lost, no
    # stall). 2 ms pauses still give 8 editors ~4,000 edits/s, far above people typing.
    export CONVERGENCE_PACE_MS=2
    export DEPLOY_CHECKED=1 # the deploy files' checks do not depend on the build: once is enough
  fi
  stage "build ($variant)"
  cmake -S . -B "$dir" "${flags[@]}" >/dev/null
  cmake --build "$dir" -j"$jobs"
  stage "unit tests ($variant)"
  ctest --test-dir "$dir" --output-on-failure -j"$jobs"
  stage "integration tests ($variant)"
  (cd tests && COLLABD_BIN="$root/$dir/server/collabd" node --test --test-concurrency=1 --test-timeout=300000 integration/)
  stage "collaboration conformance on the Redis store ($variant)"
  (cd tests && STORE=redis COLLABD_BIN="$root/$dir/server/collabd" node --test --test-concurrency=1 --test-timeout=300000 integration/collab.test.mjs)
  if [[ $variant == normal ]]; then
    stage "frontend tests: collab.js from Node, the page in Chromium (screenshots in test-artifacts/)"
    (cd tests && COLLABD_BIN="$root/$dir/server/collabd" node --test --test-concurrency=1 --test-timeout=300000 ../frontend/test/ browser/)
  fi
done
stage "fuzz targets (libFuzzer + ASan/UBSan, ${FUZZ_SECONDS:=30} s each, seed corpora)"
CC=clang cmake -S . -B build-fuzz -DCOLLABD_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$jobs" --target fuzz_changeset fuzz_doc fuzz_ws_message fuzz_multipart fuzz_pyframe
for target in changeset doc ws_message multipart pyframe; do
  scratch=$(mktemp -d)
  seeds=tests/fuzz/corpus/"$target"
  [[ $target == ws_message ]] && seeds=protocol/examples/client # the protocol's own examples
  cp "$seeds"/* "$scratch"/
  ./build-fuzz/tests/fuzz/fuzz_"$target" -max_total_time="$FUZZ_SECONDS" -print_final_stats=0 "$scratch" 2>&1 | tail -n 1
  rm -rf "$scratch"
done

stage "all tests passed"
