#!/usr/bin/env bash
# README command 2: install what is needed, build with ASan/UBSan, run every test (ctest).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
export BUILD_DIR=${BUILD_DIR:-build-test}
export BUILD_TYPE=${BUILD_TYPE:-Debug}
export CMAKE_ARGS="-DMETA_DB_SANITIZE=ON ${CMAKE_ARGS:-}"
scripts/build.sh
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$BUILD_DIR"
ctest --output-on-failure -j"$(nproc)" --timeout 900 "$@"
