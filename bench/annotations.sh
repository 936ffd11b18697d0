#!/usr/bin/env bash
# LIDC annotations (docs/annotations.md, issue 13 point 7): first-ingest time of a LIDC-scale synth archive with its
# reader XML against the same archive without it (interleaved, fresh SQLite file each run, wall and CPU seconds,
# medians and the ratio), then the p50/p99 of the annotation and QC filters through `meta_db serve` on the
# annotated catalogue (keep-alive, one client, after warm-up).
# Env: BIN (default build-r/meta_db), PATIENTS (default 200), RUNS (ingests per archive, default 3), REQUESTS
#      (default 500), OUT (default bench/out/annotations), PORT (default 18120), SKIP_INGEST=1 (filters only, on an
#      existing $OUT/with-$PATIENTS.sqlite), SKIP_FILTERS=1.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build-r/meta_db}
PATIENTS=${PATIENTS:-200}
RUNS=${RUNS:-3}
REQUESTS=${REQUESTS:-500}
OUT=${OUT:-bench/out/annotations}
PORT=${PORT:-18120}
WITH="$OUT/archive-$PATIENTS"
WITHOUT="$OUT/archive-$PATIENTS-noxml"
DB="$OUT/with-$PATIENTS.sqlite"
mkdir -p "$OUT"
[ -d "$WITH" ] || "$BIN" synth --patients "$PATIENTS" --out "$WITH" --small >/dev/null
if [ ! -d "$WITHOUT" ]; then  # hard links: the same files (same page cache), minus the reads
  cp -al "$WITH" "$WITHOUT"
  find "$WITHOUT" -name '*.xml' -delete
fi
echo "archive: $(find "$WITH" -type f | wc -l) files with reads, $(find "$WITHOUT" -type f | wc -l) without; $(uptime)"

ingest() {  # archive db -> "wall cpu"
  rm -f "$2" "$2"-wal "$2"-shm
  local start=$EPOCHREALTIME
  /usr/bin/time -f "%U %S" -o "$OUT/time.txt" "$BIN" ingest "$1" --db "sqlite:$2" --quiet >/dev/null
  local wall cpu
  wall=$(echo "$EPOCHREALTIME - $start" | bc)
  cpu=$(awk '{print $1 + $2}' "$OUT/time.txt")
  echo "$wall $cpu"
}
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

if [ -z "${SKIP_INGEST:-}" ]; then
  : >"$OUT/runs.txt"
  for run in $(seq 1 "$RUNS"); do
    read -r w0 c0 < <(ingest "$WITHOUT" "$OUT/without.sqlite")
    read -r w1 c1 < <(ingest "$WITH" "$DB")
    echo "without $w0 $c0" >>"$OUT/runs.txt"
    echo "with $w1 $c1" >>"$OUT/runs.txt"
    echo "run $run: without reads ${w0} s (cpu ${c0} s), with reads ${w1} s (cpu ${c1} s); load $(cut -d' ' -f1-3 /proc/loadavg)"
  done
  mw0=$(awk '$1 == "without" {print $2}' "$OUT/runs.txt" | median)
  mw1=$(awk '$1 == "with" {print $2}' "$OUT/runs.txt" | median)
  mc0=$(awk '$1 == "without" {print $3}' "$OUT/runs.txt" | median)
  mc1=$(awk '$1 == "with" {print $3}' "$OUT/runs.txt" | median)
  echo "median wall: without ${mw0} s, with ${mw1} s, ratio $(echo "scale=3; $mw1 / $mw0" | bc)"
  echo "median cpu:  without ${mc0} s, with ${mc1} s, ratio $(echo "scale=3; $mc1 / $mc0" | bc)"
fi
[ -n "${SKIP_FILTERS:-}" ] && exit 0

"$BIN" serve --db "sqlite:$DB" --port "$PORT" >"$OUT/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/health" && break; sleep 0.1; done
echo "filters on $DB; $(uptime)"
python3 - "$PORT" "$REQUESTS" <<'PY'
import http.client, json, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
conn = http.client.HTTPConnection("127.0.0.1", port)
targets = ["/series?min_nodules=1", "/series?min_nodules=1&limit=20", "/annotations?min_malignancy=4",
           "/annotations?min_malignancy=4&limit=20", "/series?qc_flag=missing_slices",
           "/series?qc_flag=duplicate_positions&limit=20", "/series?kernel_class=sharp",
           "/series?kernel_class=sharp&limit=20", "/series?qc_flag=no_geometry&kernel_class=unknown"]
for target in targets:
    times = []
    for i in range(n + 10):
        t = time.perf_counter()
        conn.request("GET", target)
        response = conn.getresponse()
        body = response.read()
        assert response.status == 200, (target, response.status, body[:200])
        if i >= 10:
            times.append((time.perf_counter() - t) * 1000)
    times.sort()
    page = json.loads(body)
    print(f"{target}: total {page['total']}, page {len(page['results'])}, {len(body) // 1024} KiB, "
          f"p50 {times[len(times) // 2]:.2f} ms, p99 {times[int(len(times) * 0.99)]:.2f} ms, max {times[-1]:.2f} ms")
PY
