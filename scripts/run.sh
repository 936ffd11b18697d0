#!/usr/bin/env bash
# README command 1: build, ingest the archive (a generated LIDC-like demo archive when none is mounted), serve.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
CMAKE_ARGS="-DMETA_DB_TESTS=OFF ${CMAKE_ARGS:-}" scripts/build.sh  # the tests have their own build (scripts/test.sh)
archive=${META_DB_ARCHIVE:-/usr/local/share/LIDC-IDRI-DICOM/}
db=${META_DB_URI:-sqlite:meta_db.sqlite}
if [[ ! -d "$archive" ]]; then
  archive=${META_DB_DEMO_ARCHIVE:-demo-archive}
  if [[ ! -f "$archive/manifest.json" ]]; then
    echo "meta_db: no archive at /usr/local/share/LIDC-IDRI-DICOM/; generating a demo archive in $archive" >&2
    # Tiny pixel data by default (the headers are what meta_db reads); META_DB_DEMO_FULL=1 writes 512x512 slices.
    size_flag=--small; [[ "${META_DB_DEMO_FULL:-0}" == "1" ]] && size_flag=""
    build/meta_db synth --patients "${META_DB_DEMO_PATIENTS:-20}" --out "$archive" $size_flag
  fi
fi
build/meta_db ingest "$archive" --db "$db" --collection "${META_DB_COLLECTION:-LIDC-IDRI}" >/dev/null
build/meta_db stats --db "$db"
echo "meta_db: serving the API and dashboard on http://${META_DB_HOST:-127.0.0.1}:${META_DB_PORT:-8000}/ (Ctrl-C stops)" >&2
exec build/meta_db serve --db "$db" --host "${META_DB_HOST:-127.0.0.1}" --port "${META_DB_PORT:-8000}" \
  --web-root dashboard/dist
