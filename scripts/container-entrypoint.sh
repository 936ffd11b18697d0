#!/usr/bin/env bash
# The container's entrypoint (Dockerfile): scripts/run.sh without the build, same environment knobs.
#   (no argument)     ingest the archive (a generated demo archive when none is mounted), then serve
#   ingest [ARGS...]  ingest only; ARGS go to `meta_db ingest` (a first ARG not starting with - is the archive)
#   serve [ARGS...]   serve only; ARGS go to `meta_db serve`
#   anything else     run as a meta_db sub-command: `stats`, `extract ARCHIVE`, `synth ...`, `--help`
# Knobs: META_DB_URI and META_DB_ADMIN_TOKEN (read by meta_db itself; serving beyond loopback needs the token), META_DB_ARCHIVE, META_DB_DEMO_ARCHIVE, META_DB_DEMO_PATIENTS,
# META_DB_DEMO_FULL, META_DB_COLLECTION, META_DB_PROFILE (a --profile DIR), META_DB_HOST, META_DB_PORT,
# META_DB_WEB_ROOT.
set -euo pipefail
export META_DB_URI=${META_DB_URI:-sqlite:/data/meta_db.sqlite}

has_option() {  # has_option --name ARGS...: was --name (or --name=...) given?
  local name=$1 arg
  shift
  for arg in "$@"; do [[ $arg == "$name" || $arg == "$name="* ]] && return 0; done
  return 1
}

ingest_args() {  # fills INGEST_ARGS: the archive, then defaults for the options not among ARGS, then ARGS
  local archive=${META_DB_ARCHIVE:-/usr/local/share/LIDC-IDRI-DICOM/}
  if [[ $# -gt 0 && $1 != -* ]]; then
    archive=$1
    shift
  elif [[ -z $(find "$archive" -mindepth 1 -maxdepth 1 -print -quit 2>/dev/null) ]]; then
    # Nothing mounted (compose creates an empty directory for a missing bind source): a demo archive instead.
    archive=${META_DB_DEMO_ARCHIVE:-/data/demo-archive}
    if [[ ! -f $archive/manifest.json ]]; then
      echo "meta_db: no archive at ${META_DB_ARCHIVE:-/usr/local/share/LIDC-IDRI-DICOM/}; generating a demo archive in $archive" >&2
      local size_flag=--small
      [[ ${META_DB_DEMO_FULL:-0} == 1 ]] && size_flag=""
      meta_db synth --patients "${META_DB_DEMO_PATIENTS:-20}" --out "$archive" $size_flag >&2
    fi
  fi
  INGEST_ARGS=("$archive")
  has_option --collection "$@" || INGEST_ARGS+=(--collection "${META_DB_COLLECTION:-LIDC-IDRI}")
  if [[ -n ${META_DB_PROFILE:-} ]] && ! has_option --profile "$@"; then INGEST_ARGS+=(--profile "$META_DB_PROFILE"); fi
  INGEST_ARGS+=("$@")
}

serve() {
  local args=()
  has_option --host "$@" || args+=(--host "${META_DB_HOST:-0.0.0.0}")
  has_option --port "$@" || args+=(--port "${META_DB_PORT:-8000}")
  has_option --web-root "$@" || args+=(--web-root "${META_DB_WEB_ROOT:-/opt/meta_db/dashboard/dist}")
  echo "meta_db: serving the API and dashboard on port ${META_DB_PORT:-8000} (${META_DB_URI%%:*} store)" >&2
  exec meta_db serve "${args[@]}" "$@"
}

case ${1-} in
  "")
    ingest_args
    meta_db ingest "${INGEST_ARGS[@]}" >/dev/null  # its summary is on stderr too; stdout gets the stats line
    meta_db stats
    serve
    ;;
  ingest) shift; ingest_args "$@"; exec meta_db ingest "${INGEST_ARGS[@]}" ;;
  serve) shift; serve "$@" ;;
  *) exec meta_db "$@" ;;
esac
