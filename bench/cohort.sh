#!/usr/bin/env bash
# POST /cohort and POST /nl/translate latency at LIDC scale (synth --small, 1,000 patients): p50/p99 over N sequential
# keep-alive requests per body (bench/cohort_latency.py), each cohort answered with all four counts; on SQLite and,
# when MONGO_URI is set (e.g. a FerretDB), on MongoDB too (migrated from the same SQLite catalogue).
#
# Env: BUILD (dir with a Release meta_db, default build), PATIENTS (default 1000), N (timed requests per body,
#      default 500), MONGO_URI (optional), OUT (work dir, default bench/out/cohort).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
PATIENTS=${PATIENTS:-1000}
N=${N:-500}
OUT=${OUT:-bench/out/cohort}
BIN="$BUILD/meta_db"
ARCHIVE="$OUT/archive-$PATIENTS"
DB="$OUT/catalogue-$PATIENTS.sqlite"
PIDS=()
cleanup() { for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
mkdir -p "$OUT"
[ -x "$BIN" ] || { echo "no $BIN (BUILD_TYPE=Release scripts/build.sh first, or BUILD=...)" >&2; exit 2; }

[ -d "$ARCHIVE" ] || "$BIN" synth --patients "$PATIENTS" --out "$ARCHIVE" --small >/dev/null
[ -f "$DB" ] || "$BIN" ingest "$ARCHIVE" --db "sqlite:$DB" --quiet >/dev/null

cat >"$OUT/bodies.json" <<'JSON'
[
 {"name": "cohort: everything", "path": "/cohort", "body": {}},
 {"name": "cohort: CT Siemens <1.5mm >=100 img, studies >2005", "path": "/cohort", "body": {
   "studies": {"study_date": {"$gte": "20060101"}},
   "series": {"modality": "CT", "metadata.Manufacturer": "SIEMENS", "metadata.SliceThickness": {"$lt": 1.5},
              "num_instances": {"$gte": 100}}}},
 {"name": "cohort: studies of women, GE series", "path": "/cohort", "body": {
   "studies": {"metadata.PatientSex": "F"}, "series": {"metadata.Manufacturer": "GE MEDICAL SYSTEMS"},
   "return": "studies"}},
 {"name": "cohort: instance filter (instance_number 1)", "path": "/cohort", "body": {
   "series": {"metadata.ConvolutionKernel": {"$in": ["B30f", "FC01", "STANDARD", "B"]}},
   "instances": {"instance_number": 1}}},
 {"name": "cohort: return instances, sorted", "path": "/cohort", "body": {
   "studies": {"study_date": {"$lt": "20000101"}}, "series": {"modality": "CT"}, "return": "instances",
   "sort": {"instance_number": -1}, "limit": 50}},
 {"name": "cohort: radiographs, page 3", "path": "/cohort", "body": {
   "series": {"modality": {"$in": ["CR", "DX"]}}, "skip": 100, "limit": 50}},
 {"name": "nl: long question", "path": "/nl/translate", "body": {"question":
   "CT series from Siemens scanners thinner than 1.5 mm with at least 100 images from studies after 2005"}},
 {"name": "nl: short question", "path": "/nl/translate", "body": {"question": "studies before 2003"}},
 {"name": "nl: patients, negation, contrast", "path": "/nl/translate", "body": {"question":
   "how many patients have non-contrast series not from GE with kernel B30f or B45f"}}
]
JSON

# Starts a server in the background (this shell, so its pid is kept for cleanup) and sets PORT and SERVER.
serve() {
  local log="$OUT/serve.log"
  "$BIN" serve --db "$1" --port 0 --threads 2 >"$log" 2>&1 &
  SERVER=$!
  PIDS+=("$SERVER")
  for _ in $(seq 1 300); do
    PORT=$(grep -oE 'http://127\.0\.0\.1:[0-9]+' "$log" | head -1 | sed 's/.*://') && [ -n "$PORT" ] && return
    sleep 0.1
  done
  echo "serve did not start: $(cat "$log")" >&2; exit 1
}

echo "== SQLite ($PATIENTS patients, N=$N; name p50_ms p99_ms server_cpu_ms_per_request)"
serve "sqlite:$DB"
python3 bench/cohort_latency.py "$PORT" "$N" "$OUT/bodies.json" "$SERVER"
kill "$SERVER"; wait "$SERVER" 2>/dev/null || true

if [ -n "${MONGO_URI:-}" ]; then
  "$BIN" migrate --from "sqlite:$DB" --to "$MONGO_URI" >/dev/null
  echo "== MongoDB at $MONGO_URI (N=$((N / 10)))"
  serve "$MONGO_URI"
  python3 bench/cohort_latency.py "$PORT" "$((N / 10))" "$OUT/bodies.json" "$SERVER"
fi
