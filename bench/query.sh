#!/usr/bin/env bash
# Query latency benchmark (p50/p99/max, each query with its total) at LIDC scale and at 10x.
# The catalogue is generated through the store API with synth-like shapes (faster than synth + ingest).
# Usage: bench/query.sh [patients...]   (default: 1000 10000)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-query-bench}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DMETA_DB_BENCH=ON -DMETA_DB_TESTS=OFF >/dev/null
cmake --build "$BUILD_DIR" -j"$(nproc)" --target query_bench
WORK=${WORK:-/tmp/meta_db_query_bench}
mkdir -p "$WORK"
for patients in "${@:-1000 10000}"; do
  for p in $patients; do
    echo "== $p patients (database $WORK/q$p.db; delete it to regenerate)"
    "$BUILD_DIR/bench/query_bench" --db "$WORK/q$p.db" --patients "$p" --runs "${RUNS:-300}"
  done
done
