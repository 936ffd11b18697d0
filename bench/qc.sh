#!/usr/bin/env bash
# Series QC facets (docs/qc.md): first-ingest time of a LIDC-scale synth archive with a baseline binary (without the
# facets) against this build, interleaved runs on fresh SQLite files; then the p50/p99 of the QC list filters through
# `meta_db serve` (keep-alive, one client, after warm-up).
# Env: BASE (baseline meta_db binary; empty: skip the A/B), BIN (default build/meta_db), PATIENTS (default 1000),
#      RUNS (ingests per binary, default 3), REQUESTS (default 500), OUT (default bench/out/qc), PORT (default 18110).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/meta_db}
BASE=${BASE:-}
PATIENTS=${PATIENTS:-1000}
RUNS=${RUNS:-3}
REQUESTS=${REQUESTS:-500}
OUT=${OUT:-bench/out/qc}
PORT=${PORT:-18110}
ARCHIVE="$OUT/archive-$PATIENTS"
mkdir -p "$OUT"
[ -d "$ARCHIVE" ] || "$BIN" synth --patients "$PATIENTS" --out "$ARCHIVE" --small >/dev/null

ingest_seconds() {  # binary db
  rm -f "$2" "$2"-wal "$2"-shm
  local start=$EPOCHREALTIME
  "$1" ingest "$ARCHIVE" --db "sqlite:$2" --quiet >/dev/null
  echo "$EPOCHREALTIME - $start" | bc
}

if [ -n "$BASE" ]; then
  for run in $(seq 1 "$RUNS"); do
    echo "run $run: base $(ingest_seconds "$BASE" "$OUT/base.sqlite") s, qc $(ingest_seconds "$BIN" "$OUT/qc.sqlite") s"
  done
else
  ingest_seconds "$BIN" "$OUT/qc.sqlite" >/dev/null
fi

"$BIN" serve --db "sqlite:$OUT/qc.sqlite" --port "$PORT" >"$OUT/serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/health" && break; sleep 0.1; done
python3 - "$PORT" "$REQUESTS" <<'PY'
import http.client, json, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
conn = http.client.HTTPConnection("127.0.0.1", port)
for target in ["/series?qc_flag=missing_slices", "/series?qc_flag=duplicate_positions&limit=50",
               "/series?kernel_class=sharp", "/series?qc_flag=no_geometry&kernel_class=unknown"]:
    times = []
    for i in range(n + 10):
        t = time.perf_counter()
        conn.request("GET", target)
        body = conn.getresponse().read()
        if i >= 10:
            times.append((time.perf_counter() - t) * 1000)
    times.sort()
    total = json.loads(body)["total"]
    print(f"{target}: total {total}, p50 {times[len(times)//2]:.2f} ms, p99 {times[int(len(times)*0.99)]:.2f} ms, "
          f"max {times[-1]:.2f} ms")
PY
