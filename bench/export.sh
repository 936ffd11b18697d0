#!/usr/bin/env bash
# Export benchmark: every instance of a synth --small catalogue exported as CSV (default fields, incl. path) through
# `meta_db export` (peak RSS by /usr/bin/time -v, CPU seconds) and through POST /query/export on `meta_db serve`
# (rows/s, time to the first byte, the server's peak RSS from /proc VmHWM), at two catalogue sizes so RSS can be seen
# flat; then the same rows through GET /collections/{id}/export?level=instances (a collection of every patient) and
# POST /cohort/export ({"return": "instances"}) on a second server (serve2: its own peak RSS), each checked identical
# to the CLI's file once sorted.
#
# Env: BUILD (dir with meta_db, default build), SIZES (patients per catalogue, default "250 1000" — 1000 is
#      LIDC scale), OUT (work dir, default bench/out/export), PORT (default 18100).
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD=${BUILD:-build}
SIZES=${SIZES:-"250 1000"}
OUT=${OUT:-bench/out/export}
PORT=${PORT:-18100}
BIN="$BUILD/meta_db"
[ -x "$BIN" ] || { echo "no $BIN (scripts/build.sh first, or BUILD=...)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time missing: apt-get install -y time" >&2; exit 2; }
mkdir -p "$OUT"
SERVER=
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null && wait "$SERVER" 2>/dev/null || true; }
trap cleanup EXIT

echo "patients,instances,cli_seconds,cli_cpu_seconds,cli_rows_per_s,cli_peak_rss_mb,http_seconds,http_rows_per_s,first_byte_ms,serve_peak_rss_mb,collection_rows_per_s,cohort_rows_per_s,serve2_peak_rss_mb"
for n in $SIZES; do
  archive="$OUT/archive-$n"
  db="$OUT/catalogue-$n.sqlite"
  [ -d "$archive" ] || "$BIN" synth --patients "$n" --out "$archive" --small >/dev/null
  [ -f "$db" ] || "$BIN" ingest "$archive" --db "sqlite:$db" --quiet >/dev/null
  echo '{"collection": "instances", "query": {}}' >"$OUT/all-instances.json"
  /usr/bin/time -v "$BIN" export --db "sqlite:$db" --query-file "$OUT/all-instances.json" --out "$OUT/cli-$n.csv" \
    --quiet 2>"$OUT/time-$n.txt" || { cat "$OUT/time-$n.txt" >&2; exit 1; }
  rows=$(($(wc -l <"$OUT/cli-$n.csv") - 1))
  cli_s=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s}' "$OUT/time-$n.txt")
  cli_rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.1f", $2 / 1024}' "$OUT/time-$n.txt")
  cli_cpu=$(awk -F': ' '/User time|System time/ {s += $2} END {printf "%.2f", s}' "$OUT/time-$n.txt")

  "$BIN" serve --db "sqlite:$db" --port "$PORT" >"$OUT/serve-$n.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/health" && break; sleep 0.1; done
  timing=$(curl -sf -o "$OUT/http-$n.csv" -w '%{time_starttransfer} %{time_total}' -H 'Content-Type: application/json' \
    --data @"$OUT/all-instances.json" "http://127.0.0.1:$PORT/query/export")
  serve_rss=$(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$SERVER/status")
  # A collection holding every patient (made once per catalogue; linking tags its studies and series).
  cid=$(python3 - "$PORT" <<'PY'
import json, sys, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
def call(method, path, body=None):
    req = urllib.request.Request(base + path, data=None if body is None else json.dumps(body).encode(), method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read())
found = call("GET", "/collections?name=bench-export-all")
items = found.get("results", found if isinstance(found, list) else [])
if items:
    print(items[0]["_id"]); sys.exit()
patients, skip = set(), 0
while True:
    page = call("POST", "/query", {"collection": "studies", "query": {}, "projection": {"patient_id": 1},
                                   "skip": skip, "limit": 1000})
    patients.update(s["patient_id"] for s in page["results"])
    skip += 1000
    if skip >= page["total"]: break
cid = call("POST", "/collections", {"name": "bench-export-all"})["_id"]
call("POST", f"/collections/{cid}/cases", {"cases": [{"case_id": p, "patient_id": p} for p in sorted(patients)]})
print(cid)
PY
)
  # A server of its own for the collection and cohort exports, so its peak RSS is theirs, not the linking's.
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true
  "$BIN" serve --db "sqlite:$db" --port "$PORT" >>"$OUT/serve-$n.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/health" && break; sleep 0.1; done
  collection_s=$(curl -sf -o "$OUT/collection-$n.csv" -w '%{time_total}' \
    "http://127.0.0.1:$PORT/collections/$cid/export?level=instances")
  cohort_s=$(curl -sf -o "$OUT/cohort-$n.csv" -w '%{time_total}' -H 'Content-Type: application/json' \
    --data '{"return": "instances"}' "http://127.0.0.1:$PORT/cohort/export")
  other_rss=$(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$SERVER/status")
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=
  cmp -s "$OUT/cli-$n.csv" "$OUT/http-$n.csv" || { echo "CLI and HTTP exports differ at $n patients" >&2; exit 1; }
  for other in collection cohort; do
    cmp -s <(sort "$OUT/cli-$n.csv") <(sort "$OUT/$other-$n.csv") ||
      { echo "CLI and $other exports differ at $n patients" >&2; exit 1; }
  done
  read -r first total <<<"$timing"
  awk -v n="$n" -v rows="$rows" -v cs="$cli_s" -v cc="$cli_cpu" -v cr="$cli_rss" -v first="$first" -v total="$total" \
    -v col="$collection_s" -v coh="$cohort_s" -v sr="$serve_rss" -v or="$other_rss" \
    'BEGIN {printf "%s,%d,%.2f,%s,%.0f,%s,%.2f,%.0f,%.1f,%s,%.0f,%.0f,%s\n", n, rows, cs, cc, rows / cs, cr, total,
            rows / total, first * 1000, sr, rows / col, rows / coh, or}'
done
