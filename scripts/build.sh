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
# Web assets from the npm registry: Swagger UI for /docs, and the dashboard (built to dashboard/dist).
if [[ "${META_DB_SKIP_WEB:-0}" != "1" ]]; then
  (cd src/db_api/swagger && { [[ -d node_modules/swagger-ui-dist ]] || npm ci --no-audit --no-fund; })
  (cd dashboard && { [[ -d node_modules ]] || npm ci --no-audit --no-fund; } && npm run build --silent)
fi
