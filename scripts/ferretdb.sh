#!/usr/bin/env bash
# Builds (once, cached outside the tree) and runs throwaway FerretDB v1.24.2 servers that give the tests a real MongoDB wire protocol.
set -euo pipefail

# Usage:
#   scripts/ferretdb.sh build             ensure the cached binary exists; print its path
#   scripts/ferretdb.sh start STATE_DIR [--port N]
#                                         start a server with its data in STATE_DIR; print mongodb://127.0.0.1:PORT/
#                                         (a free port each start, or exactly N: a restart on the same data and port)
#   scripts/ferretdb.sh stop STATE_DIR    stop it (TERM, KILL after 5 s); idempotent
#   scripts/ferretdb.sh uri STATE_DIR     print the URI of the server running in STATE_DIR
# STATE_DIR gets ferretdb.log, pid, port and the SQLite files. Cache: $META_DB_CACHE_DIR, default
# ${XDG_CACHE_HOME:-$HOME/.cache}/meta_db. The readiness check needs pymongo for /usr/bin/python3.

FERRETDB_VERSION=v1.24.2
FERRETDB_MODULE=github.com/FerretDB/FerretDB
CACHE_DIR=${META_DB_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/meta_db}
BIN_DIR=$CACHE_DIR/ferretdb-$FERRETDB_VERSION
BIN=$BIN_DIR/ferretdb
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3
READY_TIMEOUT=${META_DB_FERRETDB_TIMEOUT:-60}

die() { echo "ferretdb.sh: $*" >&2; exit 1; }

find_go() {
  if command -v go >/dev/null 2>&1; then command -v go
  elif [[ -x /usr/local/go/bin/go ]]; then echo /usr/local/go/bin/go
  else return 1
  fi
}

cmd_build() {
  if [[ -x $BIN ]]; then echo "$BIN"; return 0; fi
  local go
  go=$(find_go) || die "FerretDB $FERRETDB_VERSION is built from source and needs Go >= 1.24, but no 'go' was found on PATH or at /usr/local/go/bin/go (see scripts/bootstrap.sh)"
  local gover
  gover=$("$go" env GOVERSION 2>/dev/null || "$go" version | awk '{print $3}')
  if [[ $gover =~ ^go1\.([0-9]+) ]] && ((BASH_REMATCH[1] < 24)) && [[ -z ${GOTOOLCHAIN:-} ]]; then
    die "FerretDB $FERRETDB_VERSION needs Go >= 1.24; $go is $gover"
  fi
  mkdir -p "$CACHE_DIR"
  # One builder at a time (two `start`s may race for the first build); the loser finds the binary.
  exec 9>"$CACHE_DIR/.ferretdb-$FERRETDB_VERSION.lock"
  if command -v flock >/dev/null 2>&1; then flock 9; fi
  if [[ -x $BIN ]]; then echo "$BIN"; return 0; fi

  echo "ferretdb.sh: building FerretDB $FERRETDB_VERSION with $gover (first run only, ~2 min) ..." >&2
  local tmp
  tmp=$(mktemp -d "$CACHE_DIR/.ferretdb-build.XXXXXX")   # same filesystem as $BIN: the final mv is a rename
  # shellcheck disable=SC2064
  trap "rm -rf '$tmp'" EXIT
  local json dir
  json=$(cd "$tmp" && GOWORK=off "$go" mod download -json "$FERRETDB_MODULE@$FERRETDB_VERSION") \
    || die "go mod download $FERRETDB_MODULE@$FERRETDB_VERSION failed: $json"
  dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' <<<"$json")
  [[ -n $dir && -d $dir ]] || die "go mod download gave no module directory: $json"
  # The module zip lacks the generated build/version/version.txt, without which the binary panics
  # at start (FerretDB#2982), so build from a writable copy that has it.
  cp -r "$dir" "$tmp/src"
  chmod -R u+w "$tmp/src"
  mkdir -p "$tmp/src/build/version"
  echo "$FERRETDB_VERSION" >"$tmp/src/build/version/version.txt"
  (cd "$tmp/src" && GOWORK=off CGO_ENABLED=0 "$go" build -trimpath -buildvcs=false -o "$tmp/ferretdb" ./cmd/ferretdb) >&2 \
    || die "go build of FerretDB $FERRETDB_VERSION failed"
  local got
  got=$("$tmp/ferretdb" --version 2>&1) || true
  [[ $got == *"version: $FERRETDB_VERSION"* ]] || die "the freshly built binary does not run: $got"
  mkdir -p "$BIN_DIR"
  mv -f "$tmp/ferretdb" "$BIN"
  rm -rf "$tmp"
  trap - EXIT
  echo "$BIN"
}

# The pid in STATE_DIR/pid if that process is alive and is a ferretdb; else nothing (exit 1).
live_pid() {
  local state=$1 pid
  [[ -f $state/pid ]] || return 1
  pid=$(<"$state/pid")
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == ferretdb ]] || return 1
  echo "$pid"
}

# Waits until a `ping` to the URI answers, while PID lives; at most $2 seconds. Exit 0 ready,
# 1 timeout, 2 the process died, 3 pymongo missing.
wait_ready() {
  "$PY" - "$1" "$2" "$3" <<'EOF'
import os, sys, time
try:
    import pymongo
    from pymongo.errors import PyMongoError
except ImportError:
    print("ferretdb.sh: pymongo is missing for " + sys.executable + " (apt-get install python3-pymongo)", file=sys.stderr)
    sys.exit(3)
uri, timeout, pid = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
deadline = time.monotonic() + timeout
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
        with open("/proc/%d/stat" % pid) as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                sys.exit(2)
    except OSError:
        sys.exit(2)
    try:
        c = pymongo.MongoClient(uri, serverSelectionTimeoutMS=300, connectTimeoutMS=300, directConnection=True)
        try:
            c.admin.command("ping")
            sys.exit(0)
        finally:
            c.close()
    except PyMongoError:
        time.sleep(0.1)
sys.exit(1)
EOF
}

free_port() {
  "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

cmd_start() {
  local state=${1:?usage: ferretdb.sh start STATE_DIR [--port N]}
  shift
  local fixed_port=
  while (($#)); do
    case $1 in
      --port) [[ ${2:-} =~ ^[0-9]+$ ]] && ((10#$2 > 0 && 10#$2 < 65536)) || die "start: --port needs a port number (1-65535)"
              fixed_port=$((10#$2)); shift 2 ;;
      *) die "start: unknown argument '$1' (usage: ferretdb.sh start STATE_DIR [--port N])" ;;
    esac
  done
  mkdir -p "$state"
  state=$(cd "$state" && pwd)
  local pid
  if pid=$(live_pid "$state") && [[ -f $state/port ]]; then   # already running here: reuse it
    local uri="mongodb://127.0.0.1:$(<"$state/port")/"
    if [[ -n $fixed_port && $(<"$state/port") != "$fixed_port" ]]; then
      die "a FerretDB is already running in $state on port $(<"$state/port"), not $fixed_port (stop it first)"
    fi
    if wait_ready "$uri" 5 "$pid"; then echo "$uri"; return 0; fi
    cmd_stop "$state"
  fi
  local bin
  bin=$(cmd_build)
  mkdir -p "$state/data"
  local deadline=$((SECONDS + READY_TIMEOUT)) attempt rc port uri
  for attempt in 1 2 3; do
    port=${fixed_port:-$(free_port)}
    uri="mongodb://127.0.0.1:$port/"
    # FERRETDB_* variables of the caller's environment must not change the server.
    # shellcheck disable=SC2046
    (
      unset $(compgen -e | grep '^FERRETDB_' || true)
      trap '' HUP
      exec "$bin" --handler=sqlite --sqlite-url="file:$state/data/" \
        --listen-addr="127.0.0.1:$port" --debug-addr=- --state-dir="$state" \
        --telemetry=disable
    ) </dev/null >>"$state/ferretdb.log" 2>&1 &
    pid=$!
    echo "$pid" >"$state/pid"
    echo "$port" >"$state/port"
    rc=0
    wait_ready "$uri" $((deadline - SECONDS > 1 ? deadline - SECONDS : 1)) "$pid" || rc=$?
    if ((rc == 0)); then echo "$uri"; return 0; fi
    # Another process may have taken the port between free_port and the server's bind: try another
    # (a port given with --port is not replaced by another one).
    if ((rc == 2)) && [[ -z $fixed_port ]] && ((SECONDS < deadline)) && [[ $(tail -n 20 "$state/ferretdb.log") == *"address already in use"* ]]; then
      continue
    fi
    break
  done
  cmd_stop "$state" >/dev/null 2>&1 || true
  {
    case $rc in
      1) echo "ferretdb.sh: FerretDB did not answer ping on $uri within ${READY_TIMEOUT}s" ;;
      2) echo "ferretdb.sh: FerretDB exited during start-up" ;;
      *) echo "ferretdb.sh: FerretDB start failed (readiness check exit $rc)" ;;
    esac
    echo "--- last lines of $state/ferretdb.log ---"
    tail -n 20 "$state/ferretdb.log" 2>/dev/null || true
  } >&2
  return 1
}

cmd_stop() {
  local state=${1:?usage: ferretdb.sh stop STATE_DIR}
  local pid i
  if pid=$(live_pid "$state"); then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
      for ((i = 0; i < 20; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
  fi
  rm -f "$state/pid" "$state/port"
}

cmd_uri() {
  local state=${1:?usage: ferretdb.sh uri STATE_DIR}
  live_pid "$state" >/dev/null && [[ -f $state/port ]] || die "no FerretDB is running in $state"
  echo "mongodb://127.0.0.1:$(<"$state/port")/"
}

case ${1:-} in
  build) cmd_build ;;
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  uri) shift; cmd_uri "$@" ;;
  *) sed -n '5,14p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
