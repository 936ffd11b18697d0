#!/usr/bin/env bash
# API benchmark: wrk on loopback against `meta_db serve` (and Orthanc from Debian, loaded with the same files,
# answering the equivalent /tools/find), for the four queries of issue 3 at 1, 16 and 64 connections.
#
# Env: BUILD (dir with meta_db, default build), PATIENTS (synth size, default 1000), DURATION (s per point,
#      default 10), CONNS (default "1 16 64"), ORTHANC=0 to skip Orthanc, ORTHANC_PATIENTS (patients loaded
#      into Orthanc, default 40: its upload runs at a few hundred files/s), OUT (work dir, default bench/out/api).
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
DB="$OUT/api-$PATIENTS.sqlite"
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

if [ ! -d "$ARCHIVE" ]; then
  echo "== synth --small --patients $PATIENTS" >&2
  "$BIN" synth --small --patients "$PATIENTS" --out "$ARCHIVE" >"$OUT/synth-$PATIENTS.json"
fi
if [ ! -f "$DB" ]; then
  echo "== ingest into $DB" >&2
  "$BIN" ingest "$ARCHIVE" --db "sqlite:$DB" --quiet >"$OUT/ingest-$PATIENTS.json"
fi

wait_http() {  # url
  for _ in $(seq 1 200); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "not answering: $1" >&2; return 1
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

echo "== meta_db serve" >&2
"$BIN" serve --db "sqlite:$DB" --port "$META_PORT" >"$OUT/serve.log" 2>&1 &
PIDS+=($!)
M="http://127.0.0.1:$META_PORT"
wait_http "$M/health"
# The series with most instances, and a manufacturer present in the data, for the parameterised queries.
SERIES_ID=$(curl -s "$M/series?modality=CT&sort=-num_instances&limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["results"][0]["_id"])')
MAKER=$(curl -s "$M/stats" | python3 -c 'import json,sys; d=json.load(sys.stdin)["distributions"]["manufacturer"]; print([x["value"] for x in d if x["value"]!="(missing)"][0])')
MAKER_Q=$(python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$MAKER")
echo "series $SERIES_ID, manufacturer $MAKER" >&2
# Three equality conditions: the strongest query Orthanc's /tools/find can express too (no ranges there).
post_lua "$TMP/meta_q3.lua" "{\"collection\":\"series\",\"query\":{\"\$and\":[{\"modality\":\"CT\"},{\"metadata.Manufacturer\":\"$MAKER\"},{\"metadata.BodyPartExamined\":\"CHEST\"}]},\"limit\":50}"

RESULTS="$OUT/results.txt"
{
  echo "# meta_db ($PATIENTS patients; $(date -u +%FT%TZ)); columns: query conns req/s p50_ms p99_ms"
  for c in $CONNS; do
    wrk_point q1_series "$M/series?modality=CT&manufacturer=$MAKER_Q&limit=50" "$c"
    wrk_point q2_studies "$M/studies?sort=-study_date&limit=50" "$c"
    wrk_point q3_query "$M/query" "$c" "$TMP/meta_q3.lua"
    wrk_point q4_insts "$M/series/$SERIES_ID/instances?limit=500" "$c"
  done
} | tee "$RESULTS"

if [ "$ORTHANC" = 1 ]; then
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
  echo "== loading $ORTHANC_PATIENTS patients into Orthanc (POST /instances)" >&2
  start=$(date +%s.%N)
  find "$ARCHIVE" -mindepth 1 -maxdepth 1 -type d | sort | head -n "$ORTHANC_PATIENTS" |
    xargs -I{} find {} -type f ! -name '*.xml' |
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
  post_lua "$TMP/o_q1.lua" "{\"Level\":\"Series\",\"Query\":{\"Modality\":\"CT\",\"Manufacturer\":\"$MAKER\"},\"Limit\":50,\"Expand\":true}"
  post_lua "$TMP/o_q2.lua" '{"Level":"Study","Query":{},"Limit":50,"Expand":true}'
  post_lua "$TMP/o_q3.lua" "{\"Level\":\"Series\",\"Query\":{\"Modality\":\"CT\",\"Manufacturer\":\"$MAKER\",\"BodyPartExamined\":\"CHEST\"},\"Limit\":50,\"Expand\":true}"
  {
    echo "# orthanc ($loaded instances of $ORTHANC_PATIENTS patients); same columns"
    for c in $CONNS; do
      wrk_point q1_series "$O/tools/find" "$c" "$TMP/o_q1.lua"
      wrk_point q2_studies "$O/tools/find" "$c" "$TMP/o_q2.lua"
      wrk_point q3_query "$O/tools/find" "$c" "$TMP/o_q3.lua"
      wrk_point q4_insts "$O/series/$O_SERIES/instances" "$c"
    done
  } | tee -a "$RESULTS"
  echo "# ratios meta_db/orthanc req/s"
  awk '/^# meta_db/ {side="m"} /^# orthanc/ {side="o"} !/^#/ { key=$1" "$2; if (side=="m") m[key]=$3; else o[key]=$3 }
       END { for (k in m) if (o[k] > 0) printf "%-16s %8.1fx\n", k, m[k]/o[k] }' "$RESULTS" | sort | tee -a "$RESULTS"
fi
