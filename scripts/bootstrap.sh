#!/usr/bin/env bash
# Installs everything meta_db needs on Debian bookworm (idempotent): compilers, libraries, test peers.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config git
  libdcmtk-dev dcmtk
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libsqlite3-dev sqlite3 libcli11-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev
  libmongoc-dev libbson-dev
  libsodium-dev
  libxml2-dev
  python3 python3-pydicom python3-pymongo python3-pymongo-ext python3-bson-ext python3-mockupdb
  curl wrk bc time
  clang python3-venv
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
# Go >= 1.24 builds FerretDB v1.24.2, the MongoDB wire-protocol server the tests run (scripts/ferretdb.sh):
# use the machine's Go (on PATH or /usr/local/go), else try Debian's golang-go (bookworm's is 1.19: too old).
go_bin=$(command -v go || true)
[[ -z $go_bin && -x /usr/local/go/bin/go ]] && go_bin=/usr/local/go/bin/go
if [[ -z $go_bin ]]; then
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends golang-go; } || true
  go_bin=$(command -v go || true)
fi
go_version=$([[ -n $go_bin ]] && { "$go_bin" env GOVERSION 2>/dev/null || "$go_bin" version | awk '{print $3}'; } || true)
if [[ ! $go_version =~ ^go1\.([0-9]+) ]] || ((BASH_REMATCH[1] < 24)); then
  echo "bootstrap.sh: warning: FerretDB v1.24.2 (the MongoDB server of the tests) needs Go >= 1.24 to build;" \
    "found ${go_version:-no Go}${go_bin:+ at $go_bin}. Install Go >= 1.24 (e.g. /usr/local/go), or run the tests" \
    "against a MongoDB of your own (META_DB_TEST_MONGO_URI=mongodb://...) or without one (META_DB_TEST_NO_MONGO=1)." >&2
fi
# pylidc 0.2.3 (PyPI, pinned old NumPy/SQLAlchemy) for tests/annotations/pylidc_compare_test.py, cached the same way.
pylidc_venv=$(dirname "$0")/../tests/annotations/pylidc_venv.sh
if [[ -f $pylidc_venv ]]; then bash "$pylidc_venv" >/dev/null; fi  # absent in the image's build stage

# schemathesis (PyPI, pinned) for tests/api/schemathesis_test.py, in a venv of its own over Debian's python3.
st_version=4.32.5
st_venv=${META_DB_ST_VENV:-$HOME/.cache/meta_db/schemathesis-$st_version}
if [[ ! -x $st_venv/bin/schemathesis ]]; then
  /usr/bin/python3 -m venv --system-site-packages "$st_venv"  # Debian's python: its pymongo is the one seen
  "$st_venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$st_version"
fi
