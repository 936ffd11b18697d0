#!/usr/bin/env bash
# Load: wrk on loopback against the read endpoints (tests/security/reads.lua) while an ingest runs into the same
# store and HTTP writers add researchers, collections and jobs; prints wrk's p50/p99 and counts by status class, and
# /health latency measured with sequential requests meanwhile. The bounded variant is ctest's security_load_test.
# Usage: SECONDS_=60 BACKEND=sqlite bench/load.sh [build/meta_db]   (BACKEND=mongodb needs META_DB_TEST_MONGO_URI)
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 tests/security/load_test.py --binary "${1:-build/meta_db}" --backend "${BACKEND:-sqlite}" \
  --seconds "${SECONDS_:-60}"
