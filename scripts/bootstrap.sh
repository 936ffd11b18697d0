#!/usr/bin/env bash
# Installs everything meta_db needs on Debian bookworm (idempotent): compilers, libraries, test peers.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libdcmtk-dev dcmtk
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libsqlite3-dev sqlite3 libcli11-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev
  python3 python3-pydicom
  curl wrk bc time
)
if [[ "${META_DB_WITH_BROWSER:-1}" == "1" ]]; then packages+=(chromium); fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
# Node.js/npm for the dashboard and the Swagger UI assets: use the machine's if present, else Debian's
# (the dashboard's Vite 7 needs Node >= 20; bookworm's nodejs is 18, so such a machine needs a newer Node).
if ! command -v npm >/dev/null 2>&1; then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi
