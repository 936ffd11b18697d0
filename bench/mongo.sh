#!/usr/bin/env bash
# MongoDB ingest benchmark: `meta_db ingest` into FerretDB v1.24.2 (MongoDB wire protocol over SQLite) against
#   (a) the seed's approach — bench/mongo_peers.py seed: pydicom dcmread(stop_before_pixels=True) and one
#       insert_one per instance document with pymongo (study/series upserted once per new UID), and
#   (b) the client-side floor — bench/mongo_peers.py floor: pymongo insert_many(ordered=False) of the very
#       documents meta_db wrote, already built and in memory;
# plus unchanged re-ingest, peak RSS, meta_db ingest into SQLite for comparison, and the API's list queries with
# totals served from FerretDB — all in this run, on the same archive, against the same server.
# FerretDB answers only {_id: ...} filters from an index and scans everything else, so its query latencies say
# nothing about MongoDB's: they are reported, not held to a target.
#
# Usage: bench/mongo.sh   (env: PATIENTS=25 full-size patients (~4,600 files), RUNS=5 (the unchanged re-ingest runs
#                          max(RUNS, 11) times), SEED_RUNS=RUNS (runs of the slow seed peer), RSS_PATIENTS=260 small
#                          patients (~50,000 files) for the memory check, 0 to skip; BENCH_OUT=bench/out (archives
#                          are shared with bench/ingest.sh), BIG_TIMEOUT=1800 (s, the 50,000-file ingest),
#                          META_DB_BIN=build/meta_db; FerretDB comes from
#                          scripts/ferretdb.sh start, or FERRETDB_BIN=path runs that binary directly)
set -euo pipefail
cd "$(dirname "$0")/.."
PATIENTS=${PATIENTS:-25}
RUNS=${RUNS:-5}
SEED_RUNS=${SEED_RUNS:-$RUNS}
RSS_PATIENTS=${RSS_PATIENTS:-260}
OUT=${BENCH_OUT:-bench/out}
BIN=${META_DB_BIN:-build/meta_db}
PY=/usr/bin/python3
PEERS=bench/mongo_peers.py
mkdir -p "$OUT"
[[ -x "$BIN" ]] || { META_DB_SKIP_WEB=1 scripts/build.sh >/dev/null; }
[[ -x "$BIN" ]] || { echo "mongo.sh: no $BIN (scripts/build.sh, or META_DB_BIN=...)" >&2; exit 2; }
for tool in curl bc /usr/bin/time; do command -v "$tool" >/dev/null || { echo "mongo.sh: $tool missing" >&2; exit 2; }; done
"$PY" -c 'import pymongo, pydicom' 2>/dev/null ||
  { echo "mongo.sh: $PY needs pymongo and pydicom (apt-get install python3-pymongo python3-pydicom)" >&2; exit 2; }
"$PY" -c 'import pymongo, sys; sys.exit(0 if pymongo.has_c() else 1)' ||
  echo "mongo.sh: warning: pymongo without its C extension (apt-get install python3-pymongo-ext" \
       "python3-bson-ext): the peers encode BSON in pure Python and are slower than they need be" >&2

TMP=$(mktemp -d "${TMPDIR:-/tmp}/meta_db-mongo-bench.XXXXXX")
STATE="$TMP/ferretdb"
mkdir -p "$STATE"
FERRET_PID=""
SERVE_PID=""
USE_SCRIPT=0
# A signal can arrive while a timing pipeline runs: its subshells and their commands are stopped too (by pid).
kill_tree() { local child; for child in $(ps -o pid= --ppid "$1" 2>/dev/null); do kill_tree "$child"; done; kill "$1" 2>/dev/null || true; }
cleanup() {
  local rc=$? children child
  trap - INT TERM
  children=$(ps -o pid= --ppid $$ 2>/dev/null || true)
  for child in $children; do kill_tree "$child"; done
  if [[ -n "$SERVE_PID" ]]; then kill "$SERVE_PID" 2>/dev/null || true; wait "$SERVE_PID" 2>/dev/null || true; fi
  if [[ "$USE_SCRIPT" == 1 ]]; then scripts/ferretdb.sh stop "$STATE" >/dev/null 2>&1 || true; fi
  if [[ -n "$FERRET_PID" ]]; then kill "$FERRET_PID" 2>/dev/null || true; wait "$FERRET_PID" 2>/dev/null || true; fi
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# One FerretDB for the whole run: scripts/ferretdb.sh when the project has it, else a binary run directly.
# FERRETDB_BIN=path runs that binary directly instead.
if [[ -z "${FERRETDB_BIN:-}" && -x scripts/ferretdb.sh ]]; then
  USE_SCRIPT=1
  base=$(scripts/ferretdb.sh start "$STATE" | tail -1)
else
  ferret=${FERRETDB_BIN:-}
  [[ -n "$ferret" ]] || { [[ -x /tmp/ferret/ferretdb ]] && ferret=/tmp/ferret/ferretdb; } || true
  [[ -n "$ferret" ]] || ferret=$(command -v ferretdb || true)
  [[ -x "$ferret" ]] || { echo "mongo.sh: no FerretDB (scripts/ferretdb.sh build, or FERRETDB_BIN=...)" >&2; exit 2; }
  port=$(free_port)
  "$ferret" --handler=sqlite --sqlite-url="file:$STATE/" --listen-addr="127.0.0.1:$port" --debug-addr=- \
    --state-dir="$STATE" --telemetry=disable --log-level=ERROR >"$TMP/ferretdb.log" 2>&1 &
  FERRET_PID=$!
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null ||
    { echo "mongo.sh: FerretDB did not start:" >&2; cat "$TMP/ferretdb.log" >&2; exit 2; }
  base="mongodb://127.0.0.1:$port/"
fi
base=${base%/}
[[ "$base" == mongodb://* ]] || { echo "mongo.sh: FerretDB start printed '$base', not a mongodb:// URI" >&2; exit 2; }
server=$("$PY" -c 'import pymongo, sys; i = pymongo.MongoClient(sys.argv[1]).server_info(); print(i.get("ferretdbVersion") and "FerretDB " + i["ferretdbVersion"] or "MongoDB " + i["version"])' "$base/")

# Does this meta_db speak MongoDB at all? (A build without libmongoc exits 2 with a message; one that does answers
# "no catalogue at ..." for the empty probe database.)
if ! probe=$("$BIN" stats --db "$base/bench_probe" 2>&1) && [[ "$probe" != *"no catalogue at"* ]]; then
  echo "mongo.sh: $BIN cannot use a MongoDB store (rebuild with the MongoDB back-end, libmongoc-dev):" >&2
  echo "$probe" | tail -5 >&2
  exit 2
fi

archive="$OUT/archive-$PATIENTS"
if [[ ! -f "$archive/manifest.json" ]]; then
  echo "generating a full-size archive of $PATIENTS patients in $archive" >&2
  "$BIN" synth --patients "$PATIENTS" --out "$archive" >/dev/null
fi
files=$(find "$archive/" -type f | wc -l)
# Warm the page cache so every reader sees the same, warm files.
find "$archive/" -type f -print0 | xargs -0 cat >/dev/null

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
# seconds of one command (wall), stdout discarded; bash's own clock, so no `date` process is timed with it.
# A failing command fails the benchmark (its stderr is kept in $TMP/last.err and shown).
seconds() {
  local s e
  s=$EPOCHREALTIME
  "$@" >/dev/null 2>"$TMP/last.err" || { echo "mongo.sh: failed: $*" >&2; tail -5 "$TMP/last.err" >&2; return 1; }
  e=$EPOCHREALTIME
  echo "$e - $s" | bc -l
}
rate() { echo "$files / $1" | bc -l | xargs printf "%.0f"; }
verdict() { if (( $(echo "$1" | bc -l) )); then echo met; else echo MISSED; fi; }
hierarchy_in() {  # URI -> "studies/series/instances"
  "$PY" "$PEERS" count "$1" | "$PY" -c 'import json, sys; d = json.load(sys.stdin); print("/".join(str(d.get(k, 0)) for k in ("studies", "series", "instances")))'
}
# `seconds` runs in pipelines (subshells): collect each series of timings into a file, then take its median.
timed_median() {  # FILE, then the runs on stdin
  median >"$1"
  [[ -s "$1" && "$(cat "$1")" != "" ]] || { echo "mongo.sh: no timing for $1" >&2; exit 1; }
}

echo "meta_db ingest into $server at $base: $files files; runs: $RUNS (seed $SEED_RUNS)" >&2
# The server's command counters around the first run of each writer: how many round trips its work takes.
count_from() { [[ "$1" != 1 ]] || "$PY" "$PEERS" commands "$base/" >"$TMP/cmd-$2.before"; }
count_to() { [[ "$1" != 1 ]] || "$PY" "$PEERS" commands "$base/" "$TMP/cmd-$2.before" >"$TMP/cmd-$2.json"; }
wire() {  # NAME LABEL
  "$PY" -c 'import json, sys
d = json.load(open(sys.argv[1])); n = int(sys.argv[3])
print("  %-30s %s" % (sys.argv[2], ", ".join("%s %d (%.2f/file)" % (k, v, v / n) for k, v in sorted(d.items(), key=lambda kv: -kv[1])) or "-"))' \
    "$TMP/cmd-$1.json" "$2" "$files"
}

for i in $(seq "$RUNS"); do
  count_from "$i" ingest
  seconds "$BIN" ingest "$archive" --db "$base/bench_ingest_$i" --quiet
  count_to "$i" ingest
done | timed_median "$TMP/ingest.s"
# An unchanged re-ingest is a few milliseconds of work: repeated more (VM noise is a millisecond or two).
for i in $(seq "$(( RUNS > 11 ? RUNS : 11 ))"); do
  count_from "$i" reingest
  seconds "$BIN" ingest "$archive" --db "$base/bench_ingest_$(( (i - 1) % RUNS + 1 ))" --quiet
  count_to "$i" reingest
done | timed_median "$TMP/reingest.s"
rss_first=$( { /usr/bin/time -f "%M" "$BIN" ingest "$archive" --db "$base/bench_rss" --quiet >/dev/null; } 2>&1 | tail -1)
"$PY" "$PEERS" drop "$base/bench_rss"

echo "(a) the seed's approach (pydicom + insert_one)" >&2
for i in $(seq "$SEED_RUNS"); do
  count_from "$i" seed
  seconds "$PY" "$PEERS" seed "$archive" "$base/bench_seed_$i" profiles
  count_to "$i" seed
  [[ "$i" == 1 ]] || "$PY" "$PEERS" drop "$base/bench_seed_$i"
done | timed_median "$TMP/seed.s"
seed_stored=$(hierarchy_in "$base/bench_seed_1")
meta_stored=$(hierarchy_in "$base/bench_ingest_1")

echo "(b) the floor (insert_many of meta_db's documents)" >&2
for i in $(seq "$RUNS"); do
  count_from "$i" floor
  "$PY" "$PEERS" floor "$base/bench_ingest_1" "$base/bench_floor_$i" 2>"$TMP/floor.err" ||
    { cat "$TMP/floor.err" >&2; exit 1; }
  count_to "$i" floor
  "$PY" "$PEERS" drop "$base/bench_floor_$i"
done | timed_median "$TMP/floor.s"
floor_docs=$(sed -n 's/^floor: \([0-9]*\) documents.*/\1/p' "$TMP/floor.err")

echo "meta_db ingest into SQLite, for comparison" >&2
for i in $(seq "$RUNS"); do
  rm -f "$TMP/ingest-$i.sqlite"*
  seconds "$BIN" ingest "$archive" --db "sqlite:$TMP/ingest-$i.sqlite" --quiet
  rm -f "$TMP/ingest-$i.sqlite"*
done | timed_median "$TMP/sqlite.s"

# ---- API list queries with totals, served from FerretDB ------------------------------------------------------
echo "API queries on FerretDB" >&2
api_port=$(free_port)
"$BIN" serve --db "$base/bench_ingest_1" --host 127.0.0.1 --port "$api_port" >"$TMP/serve.log" 2>&1 &
SERVE_PID=$!
API="http://127.0.0.1:$api_port"
for _ in $(seq 200); do curl -sf -o /dev/null "$API/health" && break; sleep 0.1; done
curl -sf -o /dev/null "$API/health" || { echo "mongo.sh: meta_db serve did not answer:" >&2; tail -5 "$TMP/serve.log" >&2; exit 1; }
json_get() { "$PY" -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1], {}, {"d": d}))' "$1"; }
series_id=$(curl -sf "$API/series?modality=CT&sort=-num_instances&limit=1" | json_get 'd["results"][0]["_id"]')
study_id=$(curl -sf "$API/series?modality=CT&sort=-num_instances&limit=1" | json_get 'd["results"][0]["study_id"]')
maker=$(curl -sf "$API/series/$series_id" | json_get 'd["metadata"].get("Manufacturer", "")')
maker_q=$("$PY" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$maker")
QUERIES=(
  "GET /studies?limit=50"
  "GET /studies?modality=CT&sort=-study_date&limit=50"
  "GET /series?modality=CT&limit=50"
  "GET /series?modality=CT&manufacturer=$maker_q&slice_thickness_max=2.5&sort=-num_instances&limit=50"
  "GET /series?study_id=$study_id"
  "GET /studies/$study_id/series"
  "GET /instances?series_id=$series_id&limit=100"
  "GET /series/$series_id/instances?limit=100"
  "POST /query {\"collection\":\"series\",\"query\":{\"\$and\":[{\"modality\":\"CT\"},{\"metadata.SliceThickness\":{\"\$lte\":2.5}},{\"metadata.ConvolutionKernel\":{\"\$regex\":\"^b\",\"\$options\":\"i\"}}]},\"sort\":{\"num_instances\":-1},\"limit\":10}"
  "POST /query {\"collection\":\"instances\",\"query\":{\"series_id\":\"$series_id\",\"instance_number\":{\"\$gte\":10}},\"limit\":50}"
)
: >"$TMP/api.txt"
for q in "${QUERIES[@]}"; do
  method=${q%% *}; rest=${q#* }; path=${rest%% *}; body=""
  [[ "$method" == POST ]] && body=${rest#* }
  req=(curl -s -o "$TMP/body.json" -w '%{http_code} %{time_total}\n')
  [[ "$method" == POST ]] && req+=(-H 'content-type: application/json' --data-binary "$body")
  # curl's own timer (request to last byte): no process start in the figure, unlike a wall clock around curl.
  for _ in $(seq 11); do "${req[@]}" "$API$path"; done >"$TMP/api-one.txt"
  code=$(awk '{print $1}' "$TMP/api-one.txt" | sort -u | tr '\n' ' ')
  ms=$(awk '{print $2 * 1000}' "$TMP/api-one.txt" | median)
  total=$(json_get 'd.get("total", len(d) if isinstance(d, list) else "-")' <"$TMP/body.json" 2>/dev/null || echo "-")
  label="$method $path"; [[ "$method" == POST ]] && label="POST /query $body"
  [[ ${#label} -gt 100 ]] && label="${label:0:97}..."
  printf '%-100s %8.2f %8s  %s\n' "$label" "$ms" "$total" "$code" >>"$TMP/api.txt"
done
kill "$SERVE_PID" 2>/dev/null || true; wait "$SERVE_PID" 2>/dev/null || true; SERVE_PID=""

ing=$(cat "$TMP/ingest.s"); re=$(cat "$TMP/reingest.s"); seed=$(cat "$TMP/seed.s"); fl=$(cat "$TMP/floor.s")
sq=$(cat "$TMP/sqlite.s")
printf '\nmeta_db MongoDB ingest benchmark: %s files (%s full-size patients), %s, warm cache, %s cores, median of %s\n' \
  "$files" "$PATIENTS" "$server" "$(nproc)" "$RUNS"
printf '%-44s %10s %12s\n' "what" "seconds" "files/s"
printf '%-44s %10.3f %12s\n' "(a) seed: pydicom + insert_one (median of $SEED_RUNS)" "$seed" "$(rate "$seed")"
printf '%-44s %10.3f %12s\n' "(b) floor: insert_many of built documents" "$fl" "$(rate "$fl")"
printf '%-44s %10.3f %12s\n' "meta_db ingest (FerretDB)" "$ing" "$(rate "$ing")"
printf '%-44s %10.3f %12s\n' "meta_db re-ingest, unchanged (FerretDB)" "$re" "$(rate "$re")"
printf '%-44s %10.3f %12s\n' "meta_db ingest (SQLite), same archive" "$sq" "$(rate "$sq")"
printf 'stored (studies/series/instances): meta_db %s, seed %s; documents the floor wrote: %s\n' "$meta_stored" \
  "$seed_stored" "$floor_docs"
r_seed=$(echo "$seed / $ing" | bc -l); r_floor=$(echo "$fl / $ing" | bc -l); r_re=$(echo "$ing / $re" | bc -l)
printf 'wire commands of one run (serverStatus counters; the floor'"'"'s include its untimed reads and index set-up)\n'
wire ingest "meta_db ingest"
wire reingest "meta_db re-ingest, unchanged"
wire seed "(a) seed"
wire floor "(b) floor"
printf '\nratios (target in brackets)\n'
printf '  seed / meta_db ingest       %7.1fx  (>= 20x)   %s\n' "$r_seed" "$(verdict "$r_seed >= 20")"
printf '  floor / meta_db ingest      %7.2fx  (>= 0.7x)  %s\n' "$r_floor" "$(verdict "$r_floor >= 0.7")"
printf '  first / unchanged re-ingest %7.1fx  (>= 20x)   %s\n' "$r_re" "$(verdict "$r_re >= 20")"
printf '  FerretDB / SQLite ingest    %7.2fx  (report)\n' "$(echo "$ing / $sq" | bc -l)"
printf '  peak RSS, ingest of %s files: %s MB\n' "$files" "$((rss_first / 1024))"

if [[ "$RSS_PATIENTS" != "0" ]]; then
  big="$OUT/archive-small-$RSS_PATIENTS"
  [[ -f "$big/manifest.json" ]] || "$BIN" synth --patients "$RSS_PATIENTS" --out "$big" --small >/dev/null
  big_files=$(find "$big" -type f | wc -l)
  find "$big/" -type f -print0 | xargs -0 cat >/dev/null
  # A bounded wait (BIG_TIMEOUT seconds, default 1800): a store that slows down with its size must not hang the run.
  rc=0
  rss_big=$( { /usr/bin/time -f "%M %e" timeout "${BIG_TIMEOUT:-1800}" "$BIN" ingest "$big" --db "$base/bench_big" \
    --quiet >/dev/null; } 2>&1 | tail -1) || rc=$?
  if [[ "$rc" != 0 ]]; then
    printf '  ingest of %s files: did not finish (exit %s; timeout after %s s is 124)  MISSED\n' "$big_files" "$rc" \
      "${BIG_TIMEOUT:-1800}"
  else
    big_mb=$(( ${rss_big% *} / 1024 ))
    printf '  peak RSS, ingest of %s files: %s MB in %s s  (< 300 MB)  %s\n' "$big_files" "$big_mb" "${rss_big#* }" \
      "$(verdict "$big_mb < 300")"
    big_re=$(for _ in $(seq "$RUNS"); do seconds "$BIN" ingest "$big" --db "$base/bench_big" --quiet; done | median)
    printf '    unchanged re-ingest %.3f s: first / unchanged %.1fx  (>= 20x)  %s\n' "$big_re" \
      "$(echo "${rss_big#* } / $big_re" | bc -l)" "$(verdict "${rss_big#* } / $big_re >= 20")"
  fi
fi

printf '\nAPI list queries with totals, served from FerretDB (median of 11, ms; FerretDB scans: reported, no target)\n'
printf '%-100s %8s %8s  %s\n' "request" "ms" "total" "status"
cat "$TMP/api.txt"
