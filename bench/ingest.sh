#!/usr/bin/env bash
# Ingest benchmark (issue 2): meta_db extract vs pydicom and the raw 16 KiB read floor, ingest into SQLite,
# unchanged re-ingest and peak RSS — all measured in this run, on this machine, on the same synth archive.
# Usage: bench/ingest.sh   (env: PATIENTS=25 full-size patients (~4,600 files), RUNS=5 (the ~10 ms unchanged
#                           re-ingest runs max(RUNS, 11) times), RSS_PATIENTS=260 small patients (~50,000 files)
#                           for the memory check and the same ratios at that size, 0 to skip)
set -euo pipefail
cd "$(dirname "$0")/.."
PATIENTS=${PATIENTS:-25}
RUNS=${RUNS:-5}
RSS_PATIENTS=${RSS_PATIENTS:-260}
OUT=${BENCH_OUT:-bench/out}
BIN=${META_DB_BIN:-build/meta_db}
PY=/usr/bin/python3
mkdir -p "$OUT"
[[ -x "$BIN" ]] || { META_DB_SKIP_WEB=1 scripts/build.sh >/dev/null; }
g++ -O2 -std=c++20 -pthread bench/raw_read.cpp -o "$OUT/raw_read"

archive="$OUT/archive-$PATIENTS"
if [[ ! -f "$archive/manifest.json" ]]; then
  echo "generating a full-size archive of $PATIENTS patients in $archive" >&2
  "$BIN" synth --patients "$PATIENTS" --out "$archive" >/dev/null
fi
files=$(find "$archive/" -type f | wc -l)
# Warm the page cache so every reader sees the same, warm files.
find "$archive/" -type f -print0 | xargs -0 cat >/dev/null

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# seconds of one command (wall), stdout discarded; bash's own clock, so no `date` process is timed with it (a
# fork+exec of `date` costs about a millisecond, a tenth of an unchanged re-ingest)
seconds() { local s e; s=$EPOCHREALTIME; "$@" >/dev/null 2>&1; e=$EPOCHREALTIME; echo "$e - $s" | bc -l; }
rate() { echo "$files / $1" | bc -l | xargs printf "%.0f"; }

for _ in $(seq "$RUNS"); do seconds "$OUT/raw_read" "$archive"; done | median >"$OUT/raw.s"
for _ in $(seq "$RUNS"); do seconds "$BIN" extract "$archive"; done | median >"$OUT/extract.s"
for _ in $(seq "$RUNS"); do seconds "$BIN" extract "$archive" --threads 1; done | median >"$OUT/extract1.s"
for _ in $(seq "$RUNS"); do seconds "$PY" bench/pydicom_extract.py "$archive" profiles; done | median >"$OUT/pydicom.s"
for i in $(seq "$RUNS"); do
  rm -f "$OUT/ingest-$i.sqlite"*
  seconds "$BIN" ingest "$archive" --db "sqlite:$OUT/ingest-$i.sqlite" --quiet
done | median >"$OUT/ingest.s"
# ~10 ms a run, so it is repeated more (noise on a shared VM is a millisecond or two).
for i in $(seq "$(( RUNS > 11 ? RUNS : 11 ))"); do
  seconds "$BIN" ingest "$archive" --db "sqlite:$OUT/ingest-$(( (i - 1) % RUNS + 1 )).sqlite" --quiet
done | median >"$OUT/reingest.s"
rm -f "$OUT/rss.sqlite"*
rss_first=$( { /usr/bin/time -f "%M" "$BIN" ingest "$archive" --db "sqlite:$OUT/rss.sqlite" --quiet >/dev/null; } 2>&1 | tail -1)

raw=$(cat "$OUT/raw.s"); ex=$(cat "$OUT/extract.s"); ex1=$(cat "$OUT/extract1.s"); py=$(cat "$OUT/pydicom.s")
ing=$(cat "$OUT/ingest.s"); re=$(cat "$OUT/reingest.s")
printf '\nmeta_db ingest benchmark: %s files (%s full-size patients), warm cache, %s cores, median of %s\n' \
  "$files" "$PATIENTS" "$(nproc)" "$RUNS"
printf '%-34s %10s %12s\n' "what" "seconds" "files/s"
printf '%-34s %10.3f %12s\n' "raw read 16 KiB (floor)" "$raw" "$(rate "$raw")"
printf '%-34s %10.3f %12s\n' "pydicom stop_before_pixels" "$py" "$(rate "$py")"
printf '%-34s %10.3f %12s\n' "meta_db extract, 1 thread" "$ex1" "$(rate "$ex1")"
printf '%-34s %10.3f %12s\n' "meta_db extract, all cores" "$ex" "$(rate "$ex")"
printf '%-34s %10.3f %12s\n' "meta_db ingest (SQLite)" "$ing" "$(rate "$ing")"
printf '%-34s %10.3f %12s\n' "meta_db re-ingest, unchanged" "$re" "$(rate "$re")"
printf '\nratios (target in brackets)\n'
printf '  extract / pydicom          %6.1fx  (>= 15x)\n' "$(echo "$py / $ex" | bc -l)"
printf '  extract / raw floor        %6.2fx\n' "$(echo "$raw / $ex" | bc -l)"
printf '  ingest / extract           %6.2fx  (>= 0.6x)\n' "$(echo "$ex / $ing" | bc -l)"
printf '  first / unchanged re-ingest %5.1fx  (>= 20x)\n' "$(echo "$ing / $re" | bc -l)"
printf '  peak RSS, ingest of %s files: %s MB\n' "$files" "$((rss_first / 1024))"

if [[ "$RSS_PATIENTS" != "0" ]]; then
  big="$OUT/archive-small-$RSS_PATIENTS"
  [[ -f "$big/manifest.json" ]] || "$BIN" synth --patients "$RSS_PATIENTS" --out "$big" --small >/dev/null
  big_files=$(find "$big" -type f | wc -l)
  find "$big/" -type f -print0 | xargs -0 cat >/dev/null
  rm -f "$OUT/big.sqlite"*
  rss_big=$( { /usr/bin/time -f "%M %e" "$BIN" ingest "$big" --db "sqlite:$OUT/big.sqlite" --quiet >/dev/null; } 2>&1 | tail -1)
  printf '  peak RSS, ingest of %s files: %s MB in %s s  (< 300 MB)\n' "$big_files" "$(( ${rss_big% *} / 1024 ))" \
    "${rss_big#* }"
  # The same ratios at ten times the size (small pixels, so the files stay in the page cache): fixed costs matter
  # less, the store's B-trees more.
  big_ex=$(for _ in $(seq "$RUNS"); do seconds "$BIN" extract "$big"; done | median)
  big_ing=$(for i in $(seq "$RUNS"); do
    rm -f "$OUT/big-$i.sqlite"*
    seconds "$BIN" ingest "$big" --db "sqlite:$OUT/big-$i.sqlite" --quiet
  done | median)
  big_re=$(for i in $(seq "$RUNS"); do seconds "$BIN" ingest "$big" --db "sqlite:$OUT/big-$i.sqlite" --quiet; done | median)
  printf '  at %s files: extract %.2f s, ingest %.2f s, unchanged re-ingest %.3f s\n' "$big_files" "$big_ex" \
    "$big_ing" "$big_re"
  printf '    ingest / extract          %6.2fx  (>= 0.6x)\n' "$(echo "$big_ex / $big_ing" | bc -l)"
  printf '    first / unchanged re-ingest %5.1fx  (>= 20x)\n' "$(echo "$big_ing / $big_re" | bc -l)"
fi
