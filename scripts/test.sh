#!/usr/bin/env bash
# README command 2: install what is needed, build with ASan/UBSan, run every test (ctest).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
export BUILD_DIR=${BUILD_DIR:-build-test}
export BUILD_TYPE=${BUILD_TYPE:-Debug}
export CMAKE_ARGS="-DMETA_DB_SANITIZE=ON ${CMAKE_ARGS:-}"
scripts/build.sh
# The MongoDB back-end's tests need a server: the user's META_DB_TEST_MONGO_URI (a real MongoDB), else a
# throwaway FerretDB v1.24.2 (MongoDB wire protocol on SQLite) stopped on exit; META_DB_TEST_NO_MONGO=1: none.
repo=$(pwd)
if [[ -n ${META_DB_TEST_MONGO_URI:-} ]]; then
  export META_DB_TEST_MONGO_URI
  echo "test.sh: MongoDB tests use the server at $META_DB_TEST_MONGO_URI (META_DB_TEST_MONGO_URI)"
elif [[ ${META_DB_TEST_NO_MONGO:-0} == 1 ]]; then
  unset META_DB_TEST_MONGO_URI
  echo "test.sh: MongoDB tests use no server (META_DB_TEST_NO_MONGO=1): they are skipped"
else
  ferret_state=$(mktemp -d "${TMPDIR:-/tmp}/meta_db-ferretdb.XXXXXX")
  stop_ferretdb() {
    "$repo/scripts/ferretdb.sh" stop "$ferret_state" >/dev/null 2>&1 || true
    rm -rf "$ferret_state"
  }
  trap stop_ferretdb EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  if ! META_DB_TEST_MONGO_URI=$("$repo/scripts/ferretdb.sh" start "$ferret_state"); then
    echo "test.sh: could not start FerretDB for the MongoDB tests; set META_DB_TEST_MONGO_URI to a MongoDB" \
      "of your own, or META_DB_TEST_NO_MONGO=1 to skip them" >&2
    exit 1
  fi
  export META_DB_TEST_MONGO_URI
  echo "test.sh: MongoDB tests use FerretDB v1.24.2 (SQLite back-end) at $META_DB_TEST_MONGO_URI"
fi
# libmongoc's shared-memory counters: a killed test process leaves /dev/shm/mongoc-PID behind, and a later process with
# that PID prints a warning that tests reading stderr would see.
export MONGOC_DISABLE_SHM=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$BUILD_DIR"
ctest --output-on-failure -j"$(nproc)" --timeout 900 "$@"
