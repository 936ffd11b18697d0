#!/usr/bin/env bash
# API benchmark: wrk on loopback against `meta_db serve` for the four queries of issue 3 at 1, 16 and 64
# connections on a synth --small archive at LIDC scale; then meta_db and Orthanc (Debian's package) on the
# SAME subset of patients (Orthanc's upload is slow), Orthanc answering the equivalent /tools/find, with ratios.
#
# Env: BUILD (dir with meta_db, default build), PATIENTS (synth size, default 1000), DURATION (s per point,
#      default 10), CONNS (default "1 16 64"), ORTHANC=0 to skip Orthanc, ORTHANC_PATIENTS (patients in the
#      shared subset, default 40), OUT (work dir, default bench/out/api).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
PATIENTS=${PATIENTS:-1000}
DURATION=${DURATION:-10}
CONNS=${CONNS:-"1 16 64"}
ORTHANC=${ORTHANC:-1}
ORTHANC_PATIENTS=${ORTHANC_PATIENTS:-40}
OUT=${OUT:-bench/out/api}
META_PORT=${META_PORT:-18000}
ORTHANC_PORT=${ORTHANC_PORT:-18042}
BIN="$BUILD/meta_db"
ARCHIVE="$OUT/archive-$PATIENTS"
TMP=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
  rm -rf "$TMP"
}
trap cleanup EXIT
mkdir -p "$OUT"
command -v wrk >/dev/null || { echo "wrk missing: apt-get install -y wrk" >&2; exit 2; }
[ -x "$BIN" ] || { echo "no $BIN (scripts/build.sh first, or BUILD=...)" >&2; exit 2; }

wait_http() {  # url
  for _ in $(seq 1 200); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "not answering: $1" >&2; return 1
}

ingest_once() {  # archive db
  [ -f "$2" ] || "$BIN" ingest "$1" --db "sqlite:$2" --quiet >"$2.ingest.json"
}

# wrk_point NAME URL CONNS [LUA] -> "name conns req/s p50_ms p99_ms"
wrk_point() {
  local name=$1 url=$2 conns=$3 lua=${4:-} threads=2 out
  [ "$conns" -lt 2 ] && threads=1
  if [ -n "$lua" ]; then
    out=$(wrk -t"$threads" -c"$conns" -d"${DURATION}s" --latency -s "$lua" "$url")
  else
    out=$(wrk -t"$threads" -c"$conns" -d"${DURATION}s" --latency "$url")
  fi
  echo "$out" | awk -v name="$name" -v c="$conns" '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /Requests\/sec/ { rps = $2 }
    $1 == "50%" { p50 = ms($2) }  $1 == "99%" { p99 = ms($2) }
    /Non-2xx/ { bad = $NF }
    END { printf "%-10s %4d %10.0f %9.3f %9.3f%s\n", name, c, rps, p50, p99, (bad ? "  non-2xx=" bad : "") }'
}

post_lua() {  # file body
  printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nwrk.body = [[%s]]\n' "$2" >"$1"
}

# bench_meta LABEL DB: serves DB and measures the four queries; prints a table.
bench_meta() {
  local label=$1 db=$2 pid
  "$BIN" serve --db "sqlite:$db" --port "$META_PORT" >"$OUT/serve-$label.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  local M="http://127.0.0.1:$META_PORT"
  wait_http "$M/health"
  # The series with most instances, and the most frequent manufacturer, parameterise the queries.
  local series maker maker_q
  series=$(curl -s "$M/series?modality=CT&sort=-num_instances&limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["results"][0]["_id"])')
  maker=$(curl -s "$M/stats" | python3 -c 'import json,sys; d=json.load(sys.stdin)["distributions"]["manufacturer"]; print([x["value"] for x in d if x["value"]!="(missing)"][0])')
  maker_q=$(python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$maker")
  # Three equality conditions: the strongest query Orthanc's /tools/find can express too (no ranges there).
  post_lua "$TMP/meta_q3.lua" "{\"collection\":\"series\",\"query\":{\"\$and\":[{\"modality\":\"CT\"},{\"metadata.Manufacturer\":\"$maker\"},{\"metadata.BodyPartExamined\":\"CHEST\"}]},\"limit\":50}"
  echo "# meta_db $label (manufacturer $maker; $(date -u +%FT%TZ)); columns: query conns req/s p50_ms p99_ms"
  for c in $CONNS; do
    wrk_point q1_series "$M/series?modality=CT&manufacturer=$maker_q&limit=50" "$c"
    wrk_point q2_studies "$M/studies?sort=-study_date&limit=50" "$c"
    wrk_point q3_query "$M/query" "$c" "$TMP/meta_q3.lua"
    wrk_point q4_insts "$M/series/$series/instances?limit=500" "$c"
  done
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  echo "$maker" >"$TMP/maker"
}

if [ ! -d "$ARCHIVE" ]; then
  echo "== synth --small --patients $PATIENTS" >&2
  "$BIN" synth --small --patients "$PATIENTS" --out "$ARCHIVE" >"$OUT/synth-$PATIENTS.json"
fi
echo "== ingest (once)" >&2
ingest_once "$ARCHIVE" "$OUT/api-$PATIENTS.sqlite"
RESULTS="$OUT/results.txt"
bench_meta "full-$PATIENTS-patients" "$OUT/api-$PATIENTS.sqlite" | tee "$RESULTS"
[ "$ORTHANC" = 1 ] || exit 0

# The shared subset: hard links to the first ORTHANC_PATIENTS patient folders, ingested by both systems.
SUBSET="$OUT/subset-$ORTHANC_PATIENTS"
if [ ! -d "$SUBSET" ]; then
  mkdir -p "$SUBSET"
  find "$ARCHIVE" -mindepth 1 -maxdepth 1 -type d | sort | head -n "$ORTHANC_PATIENTS" | xargs -I{} cp -al {} "$SUBSET/"
fi
ingest_once "$SUBSET" "$OUT/api-subset-$ORTHANC_PATIENTS.sqlite"
bench_meta "subset-$ORTHANC_PATIENTS-patients" "$OUT/api-subset-$ORTHANC_PATIENTS.sqlite" | tee -a "$RESULTS"
MAKER=$(cat "$TMP/maker")

if ! command -v Orthanc >/dev/null; then
  echo "== installing Debian's orthanc" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends orthanc >&2
fi
mkdir -p "$TMP/orthanc/storage" "$TMP/orthanc/index"
cat >"$TMP/orthanc/config.json" <<JSON
{ "Name": "meta_db-bench", "StorageDirectory": "$TMP/orthanc/storage", "IndexDirectory": "$TMP/orthanc/index",
  "HttpPort": $ORTHANC_PORT, "DicomServerEnabled": false, "RemoteAccessAllowed": false,
  "AuthenticationEnabled": false, "Plugins": [], "HttpThreadsCount": 64, "KeepAlive": true,
  "LimitFindResults": 0, "LimitFindInstances": 0, "StorageCompression": false }
JSON
Orthanc "$TMP/orthanc/config.json" >"$OUT/orthanc.log" 2>&1 &
PIDS+=($!)
O="http://127.0.0.1:$ORTHANC_PORT"
wait_http "$O/system"
echo "== loading the subset into Orthanc (POST /instances)" >&2
start=$(date +%s.%N)
find "$SUBSET" -type f ! -name '*.xml' |
  xargs -P 4 -n 50 sh -c 'for f; do curl -s -o /dev/null -X POST --data-binary @"$f" '"$O"'/instances; done' sh
loaded=$(curl -s "$O/statistics" | python3 -c 'import json,sys; print(json.load(sys.stdin)["CountInstances"])')
echo "orthanc: $loaded instances in $(python3 -c "print(round($(date +%s.%N)-$start,1))") s" >&2
O_SERIES=$(curl -s "$O/series" | python3 -c '
import json, sys, urllib.request
best, n = None, -1
for s in json.load(sys.stdin):
    c = len(json.load(urllib.request.urlopen(sys.argv[1] + "/series/" + s))["Instances"])
    if c > n: best, n = s, c
print(best)' "$O")
# Expanded answers, like meta_db's documents; Orthanc has no sort, so q2 is its plain study listing.
post_lua "$TMP/o_q1.lua" "{\"Level\":\"Series\",\"Query\":{\"Modality\":\"CT\",\"Manufacturer\":\"$MAKER\"},\"Limit\":50,\"Expand\":true}"
post_lua "$TMP/o_q2.lua" '{"Level":"Study","Query":{},"Limit":50,"Expand":true}'
post_lua "$TMP/o_q3.lua" "{\"Level\":\"Series\",\"Query\":{\"Modality\":\"CT\",\"Manufacturer\":\"$MAKER\",\"BodyPartExamined\":\"CHEST\"},\"Limit\":50,\"Expand\":true}"
{
  echo "# orthanc subset-$ORTHANC_PATIENTS-patients ($loaded instances); same columns"
  for c in $CONNS; do
    wrk_point q1_series "$O/tools/find" "$c" "$TMP/o_q1.lua"
    wrk_point q2_studies "$O/tools/find" "$c" "$TMP/o_q2.lua"
    wrk_point q3_query "$O/tools/find" "$c" "$TMP/o_q3.lua"
    wrk_point q4_insts "$O/series/$O_SERIES/instances" "$c"
  done
} | tee -a "$RESULTS"
echo "# ratios meta_db/orthanc req/s on the same subset" | tee -a "$RESULTS"
awk '/^# meta_db subset/ {side="m"; next} /^# orthanc/ {side="o"; next} /^#/ {side=""; next}
     side != "" { key=$1" "$2; if (side=="m") m[key]=$3; else o[key]=$3 }
     END { for (k in m) if (o[k] > 0) printf "%-16s %8.1fx\n", k, m[k]/o[k] }' "$RESULTS" | sort | tee -a "$RESULTS"
