#!/usr/bin/env bash
# Builds meta_db (binary at build/meta_db) and the web assets. BUILD_DIR and CMAKE_ARGS may be overridden.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
if [[ ! -f "$build_dir/CMakeCache.txt" ]]; then
  cmake -S . -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" ${CMAKE_ARGS:-}
fi
cmake --build "$build_dir" -j"$(nproc)"
if [[ -f dashboard/package.json && "${META_DB_SKIP_WEB:-0}" != "1" ]]; then
  (cd dashboard && { [[ -d node_modules ]] || npm ci --no-audit --no-fund; } && npm run build --silent)
fi
