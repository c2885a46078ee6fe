#!/usr/bin/env bash
# Installs what collabd needs on Debian 12, and only what is missing: one `apt-get update`,
# then `apt-get install` of the missing packages. Safe to run again (does nothing then).
#   deploy/install-deps.sh          build + run dependencies
#   deploy/install-deps.sh --test   also what the test suite needs (clang for the fuzzers,
#                                   LeakSanitizer runtime, clang-format, chromium for the
#                                   browser tests, redis-server for the Redis store tests,
#                                   the openssl CLI for the TLS tests' throwaway certificates,
#                                   nginx for the reverse-proxy tests)
# Services installed here (redis-server, nginx) are not started: the tests start their own on
# free ports, so a policy-rc.d refuses every start during the install (unless one exists).
set -euo pipefail

pkgs=(build-essential cmake pkg-config libwebsockets-dev libwebsockets-evlib-uv libuv1-dev
      libcjson-dev uuid-dev libssl-dev python3-dev libpython3-dev libseccomp-dev libhiredis-dev)
if [[ "${1:-}" == "--test" ]]; then
  pkgs+=(clang libclang-rt-14-dev clang-format valgrind chromium redis-server openssl nginx)
fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "collabd: installing ${missing[*]}"
  SUDO=""
  [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "collabd: Node.js 20 and npm are needed for the tests and the frontend build" >&2
  exit 1
fi
