#!/usr/bin/env bash
# Fuzzing benchmark: every libFuzzer target (tests/fuzz) for SECONDS each, from the checked-in and generated seeds
# plus pydicom's test files; prints per target execs/s, coverage (cov = edges, ft = features), corpus size and
# crashes, and keeps the grown corpora and any crash inputs under OUT.
# Env: FUZZ_BUILD (clang build dir, configured here if absent, default build-fuzz), SECONDS_PER_TARGET (default
#      180), TARGETS (default all), BUILD (a gcc build with meta_db for synth seeds, default build), OUT (default
#      bench/out/fuzz).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
SECONDS_PER_TARGET=${SECONDS_PER_TARGET:-180}
TARGETS=${TARGETS:-"fast_header dicom_extract filter_parse sql_translate bson_translate api_body url_target job_csv"}
BUILD=${BUILD:-build}
OUT=${OUT:-bench/out/fuzz}
if [[ ! -f $FUZZ_BUILD/CMakeCache.txt ]]; then
  cmake -S . -B "$FUZZ_BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DMETA_DB_FUZZ=ON ${CMAKE_ARGS:-}
fi
cmake --build "$FUZZ_BUILD" -j"$(nproc)" --target meta_db_fuzzers >/dev/null
[[ -x $BUILD/meta_db ]] && export META_DB_BIN=$repo/$BUILD/meta_db
pydicom=/usr/lib/python3/dist-packages/pydicom/data/test_files
mkdir -p "$OUT"
export META_DB_FUZZ_ARTIFACTS=$repo/$OUT/crashes
echo "fuzz.sh: ${SECONDS_PER_TARGET} s per target on $(nproc) cores; corpora and crashes under $OUT"
failed=0
for target in $TARGETS; do
  max_len=4096
  seeds=()
  case $target in
    fast_header | dicom_extract) max_len=65536 seeds=("$pydicom") ;;
    url_target) max_len=2048 ;;
  esac
  META_DB_FUZZ_CORPUS_OUT=$repo/$OUT/corpus/$target tests/fuzz/run_fuzzer.sh "$FUZZ_BUILD/tests/fuzz/fuzz_$target" \
    "$target" "$SECONDS_PER_TARGET" "$max_len" "${seeds[@]}" | tee -a "$OUT/summary.txt" | grep '^fuzz_' || failed=1
done
exit "$failed"
