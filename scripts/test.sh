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
status=0
(cd "$BUILD_DIR" && ctest --output-on-failure -j"$(nproc)" --timeout 900 "$@") || status=$?
# Bounded fuzzing (tests/fuzz): the libFuzzer targets in a clang build of their own, META_DB_FUZZ_SECONDS (20) each,
# two at a time. Runs when no ctest selection was given, unless META_DB_TEST_FUZZ=0 (META_DB_TEST_FUZZ=1 forces it).
if [[ ${META_DB_TEST_FUZZ:-$(($# == 0))} == 1 ]]; then
  fuzz_build=${FUZZ_BUILD_DIR:-build-fuzz}
  generator=()
  command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
  if [[ ! -f $fuzz_build/CMakeCache.txt ]]; then
    cmake -S . -B "$fuzz_build" "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
      -DMETA_DB_FUZZ=ON -DMETA_DB_FUZZ_SECONDS="${META_DB_FUZZ_SECONDS:-20}" ${CMAKE_ARGS:-}
  fi
  cmake --build "$fuzz_build" -j"$(nproc)" --target meta_db_fuzzers
  (cd "$fuzz_build" && META_DB_BIN="$repo/$BUILD_DIR/meta_db" ctest -L fuzz --output-on-failure -j"$(nproc)") \
    || status=$?
fi
exit "$status"
