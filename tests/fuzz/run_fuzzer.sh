#!/usr/bin/env bash
# One bounded libFuzzer run: run_fuzzer.sh BINARY NAME SECONDS MAX_LEN [SEED_DIR...]. Fuzzes from the checked-in
# corpus (corpus/NAME), the regressions, seeds generated now (make_seeds.py; META_DB_BIN adds synth files) and any
# SEED_DIR; prints one summary line (execs/s, coverage, crashes). A crash input is kept in
# $META_DB_FUZZ_ARTIFACTS/NAME (default ./fuzz-artifacts/NAME) and the run fails. META_DB_FUZZ_CORPUS_OUT=DIR keeps
# the corpus it grew.
set -euo pipefail
bin=$1 name=$2 seconds=$3 max_len=$4
shift 4
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/meta_db_fuzz_run.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$work/generated"
python3 "$here/make_seeds.py" "$name" "$work/generated"
artifacts=${META_DB_FUZZ_ARTIFACTS:-$PWD/fuzz-artifacts}/$name
mkdir -p "$artifacts"
out=${META_DB_FUZZ_CORPUS_OUT:-$work/corpus}
mkdir -p "$out"
dirs=("$out" "$here/corpus/$name" "$work/generated")
[[ -d $here/regressions/$name ]] && dirs+=("$here/regressions/$name")
for d in "$@"; do [[ -d $d ]] && dirs+=("$d"); done
# DCMTK's own leak on cut DICOMDIRs is suppressed (lsan.supp says why); every other leak fails the run.
export LSAN_OPTIONS="suppressions=$here/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
status=0
# -timeout: one input taking 10 s is a hang; -rss_limit_mb: libFuzzer's default 2 GiB, made explicit.
"$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len="$max_len" -print_final_stats=1 \
  -artifact_prefix="$artifacts/" "${dirs[@]}" >"$work/log" 2>&1 || status=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log")
cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$work/log" | tail -n 1 || true)
crashes=$(find "$artifacts" -type f | wc -l)
echo "fuzz_$name: ${execs:-?} execs in ${seconds} s (${rate:-?}/s), ${cov:-no coverage line}, crashes: $crashes"
if ((status != 0)); then
  tail -n 80 "$work/log"
  echo "fuzz_$name: failed (exit $status); inputs under $artifacts:" >&2
  ls -l "$artifacts" >&2
fi
exit "$status"
