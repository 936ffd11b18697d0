#!/usr/bin/env bash
# Soak: `meta_db serve` under mixed load (wrk reads + HTTP writers creating, patching and deleting collections and
# jobs) for DURATION seconds, its RSS and open descriptors sampled every second; prints the least-squares slopes
# (after a warm-up) so a leak shows as a steady climb. Results go in docs/performance.md ("Soak and load").
# Usage: bench/soak.sh [--duration 600] [--binary build/meta_db] [--patients 10] [--connections 8] [--keep DIR]
#                      [--serve-arg ARG]... (passed to `meta_db serve`, e.g. --serve-arg --query-budget-ms=30000)
set -euo pipefail
cd "$(dirname "$0")/.."
duration=600 binary=build/meta_db patients=10 connections=8 keep="" serve_args=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --duration) duration=$2; shift 2 ;;
    --binary) binary=$2; shift 2 ;;
    --patients) patients=$2; shift 2 ;;
    --connections) connections=$2; shift 2 ;;
    --keep) keep=$2; shift 2 ;;
    --serve-arg) serve_args+=("$2"); shift 2 ;;
    *) echo "usage: $0 [--duration S] [--binary B] [--patients N] [--connections C] [--keep DIR]" >&2; exit 2 ;;
  esac
done
command -v wrk >/dev/null || { echo "soak: needs wrk (apt-get install wrk)" >&2; exit 2; }
work=${keep:-$(mktemp -d /tmp/meta_db_soak.XXXXXX)}
mkdir -p "$work"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [[ -n $keep ]] || rm -rf "$work"
}
trap cleanup EXIT

"$binary" synth --patients "$patients" --out "$work/archive" --small >/dev/null
"$binary" ingest "$work/archive" --db "sqlite:$work/soak.sqlite" --quiet >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$binary" serve --db "sqlite:$work/soak.sqlite" --port "$port" "${serve_args[@]}" >"$work/serve.log" 2>&1 &
server=$!
pids+=("$server")
base="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -sf "$base/health" >/dev/null && break; sleep 0.1; done

# Writers: a collection and a job created, patched and deleted in a loop, so the catalogue stays the same size.
writer() {
  local n=0 rid="soak-$1-$$"
  curl -sf -o /dev/null -H 'Content-Type: application/json' -d "{\"researcher_id\":\"$rid\",\"name\":\"Soak\"}" \
    "$base/researchers" || true
  while :; do
    n=$((n + 1))
    local id job
    id=$(curl -s -H 'Content-Type: application/json' -d "{\"name\":\"soak-$1-$$-$n\"}" "$base/collections" |
      python3 -c 'import json,sys; print(json.load(sys.stdin).get("_id",""))' 2>/dev/null || true)
    job=$(curl -s -H 'Content-Type: application/json' \
      -d "{\"researcher_id\":\"$rid\",\"name\":\"j$n\",\"accession_numbers\":[\"NONE-$n\"]}" "$base/jobs" |
      python3 -c 'import json,sys; print(json.load(sys.stdin).get("_id",""))' 2>/dev/null || true)
    [[ -n $id ]] && curl -s -o /dev/null -X PATCH -H 'Content-Type: application/json' -d '{"description":"x"}' \
      "$base/collections/$id"
    [[ -n $id ]] && curl -s -o /dev/null -X DELETE "$base/collections/$id"
    [[ -n $job ]] && curl -s -o /dev/null -X DELETE "$base/jobs/$job"
    sleep 0.05
  done
}
writer 1 & pids+=($!)
writer 2 & pids+=($!)

# Sampler: seconds, RSS (KiB), open descriptors of the server.
sampler() {
  local start=$SECONDS
  while kill -0 "$server" 2>/dev/null; do
    local rss fds
    rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$server/status")
    fds=$(ls "/proc/$server/fd" | wc -l)
    echo "$((SECONDS - start)) $rss $fds"
    sleep 1
  done
}
sampler >"$work/samples.txt" & pids+=($!)

wrk -t2 -c"$connections" -d"${duration}s" --timeout 30s -s tests/security/reads.lua "$base" >"$work/wrk.txt" 2>&1 || true
sleep 1
grep RESULT "$work/wrk.txt" || cat "$work/wrk.txt"
status5=$(grep -cE '" 5[0-9][0-9] |\] [A-Z]+ [^ ]+ 5[0-9][0-9] ' "$work/serve.log" || true)
echo "5xx in the server's access log (wrk + writers): $status5"

# Least squares over the samples after a warm-up of 10% (at most 60 s): slope per minute.
warm=$((duration / 10 < 60 ? duration / 10 : 60))
awk -v warm="$warm" '
  $1 >= warm { n++; sx += $1; sy += $2; sz += $3; sxx += $1 * $1; sxy += $1 * $2; sxz += $1 * $3
               if (n == 1) { r0 = $2; f0 = $3 } r1 = $2; f1 = $3; if ($2 > rmax) rmax = $2 }
  END {
    d = n * sxx - sx * sx
    if (n < 3 || d == 0) { print "soak: too few samples"; exit 1 }
    printf "samples %d (after %d s warm-up)\n", n, warm
    printf "RSS: %.1f MiB -> %.1f MiB (max %.1f MiB), slope %.1f KiB/min\n", r0 / 1024, r1 / 1024, rmax / 1024,
           (n * sxy - sx * sy) / d * 60
    printf "open fds: %d -> %d, slope %.3f /min\n", f0, f1, (n * sxz - sx * sz) / d * 60
  }' "$work/samples.txt"
