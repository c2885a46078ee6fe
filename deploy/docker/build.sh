#!/usr/bin/env bash
# The build steps of deploy/Dockerfile, as a script so that they can run (and be tested) without
# a Docker engine: tests/integration/deploy.test.mjs runs them in a scratch copy of the repo.
#   build.sh deps             apt-get install the missing packages of build-packages.txt
#   build.sh server DEST      Release build of collabd + collabd-py into DEST/opt/collabd/bin,
#                             the protocol files (served at /docs) into DEST/opt/collabd/share
#   build.sh frontend DEST    the page (Vite, with the Pyodide files) into
#                             DEST/opt/collabd/share/static (npm packages installed if missing)
#   build.sh runtime          (runtime stage, as root) apt-get install runtime-packages.txt and
#                             create the collabd user (uid/gid 10001) and its directories
# Run from anywhere inside the repository; DEST must be an absolute path or relative to the
# current directory.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
prefix=/opt/collabd
uid=10001

packages() { grep -v '^\s*\(#\|$\)' "$1"; }

apt_install() { # only what is missing: a test reuses the machine's packages
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

dest_of() {
  [[ -n "${1:-}" ]] || { echo "build.sh: DEST missing" >&2; exit 2; }
  mkdir -p "$1"
  (cd "$1" && pwd)
}

case "${1:-}" in
deps)
  mapfile -t pkgs < <(packages "$here/build-packages.txt")
  apt_install "${pkgs[@]}"
  ;;
server)
  dest=$(dest_of "${2:-}")
  cmake -S "$repo" -B "$repo/build-docker" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$repo/build-docker" -j"$(nproc)" --target collabd collabd-py
  install -d "$dest$prefix/bin" "$dest$prefix/share"
  install -m 0755 -s "$repo/build-docker/server/collabd" "$repo/build-docker/server/collabd-py" \
    "$dest$prefix/bin/"
  rm -rf "$dest$prefix/share/protocol"
  mkdir -p "$dest$prefix/share/protocol"
  cp -R "$repo/protocol/openapi.json" "$repo/protocol/docs" "$repo/protocol/schemas" \
    "$dest$prefix/share/protocol/"
  echo "build.sh: $dest$prefix/bin/collabd $("$dest$prefix/bin/collabd" --version | cut -d' ' -f2)"
  ;;
frontend)
  dest=$(dest_of "${2:-}")
  "$repo/deploy/build-frontend.sh"
  rm -rf "$dest$prefix/share/static"
  mkdir -p "$dest$prefix/share"
  cp -R "$repo/frontend/dist" "$dest$prefix/share/static"
  ;;
runtime)
  mapfile -t pkgs < <(packages "$here/runtime-packages.txt")
  apt_install "${pkgs[@]}"
  rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb # the image keeps no package lists
  getent group collabd >/dev/null || groupadd --system --gid "$uid" collabd
  getent passwd collabd >/dev/null ||
    useradd --system --uid "$uid" --gid "$uid" --home-dir /var/lib/collabd --no-create-home \
      --shell /usr/sbin/nologin collabd
  install -d -o "$uid" -g "$uid" -m 0750 /var/lib/collabd /var/lib/collabd/sandbox /var/log/collabd
  ;;
*)
  sed -n '2,14p' "$0" >&2
  exit 2
  ;;
esac
