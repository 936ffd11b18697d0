#!/usr/bin/env python3
"""MongoDB faults, black-box: the real meta_db against FerretDB servers this test starts, kills and restarts.

The issue: "server unreachable at start -> `ingest` exits non-zero within 15 s with a one-line reason; `serve`
starts, answers /health 503 naming the reason and recovers by itself when the server comes back; server killed
mid-ingest -> a clear failure, and after a restart a re-run completes with nothing lost or doubled; a malformed URI,
an unknown database option or rejected credentials -> exit 2 with a one-line reason naming it (the password never
printed)". Checked here (docs/mongodb.md "Faults", docs/cli.md "Exit codes"):

- unreachable at start (a closed port on 127.0.0.1): `ingest`, `stats` and `check` exit 3 within 15 s, stderr exactly
  one line naming 127.0.0.1:PORT; with credentials in the URI the password appears nowhere in the output;
- `serve` against a port nothing listens on: it starts, /health answers 503 {"status":"unavailable","reason":...}
  naming 127.0.0.1:PORT, a GET /series 503; then FerretDB is started on that very port (`scripts/ferretdb.sh start DIR
  --port N`): /health turns 200 within 30 s with the same serve process, GET /series answers 200, and after an ingest
  through the CLI it lists the new series; FerretDB killed (-9) again -> /health 503 again; restarted on the same data
  and port -> 200 again, the series still there;
- FerretDB killed (-9) mid-ingest (an 8-patient archive; at ~40% and at ~60% of a clean ingest's time, and as soon as
  `ingest_files` has a record): ingest exits 3 within 60 s with one line on stderr (an ingest still running then is
  killed by the test and reported); FerretDB restarted on the same data dir and port; a re-run exits 0; the catalogue
  (studies, series, instances, collections with their cases, researchers, jobs, ingest_files, ingest_dirs,
  ingest_errors) then equals a clean ingest of the same archive into a fresh database (same _ids, same documents and
  field order but the timestamps; the collection paired by name, its cases as a set) and `meta_db check` exits 0;
- the ingest process killed (-9) at ~30%, ~60%, ~90% of a clean ingest's time (fractions rather than the issue's
  0.5/1.5/3 s: a clean ingest takes 1-4 s here depending on build and load; each into its own database), and once
  killed three times in a row on one database: a re-run converges to the same clean catalogue, `meta_db check` exits
  0;
- crashes at exact points, deterministically: the ingest talks to FerretDB through a wire-protocol proxy of this test
  (CutProxy) that drops every connection the moment a given write command is sent (it never reaches the server), and
  the ingest is then killed -9: at the first studies summary update, the first cases merge, the first clearing of
  directory digests, the first and second batch's file records, the error register (written after its batch's file
  records), the second batch's instances, the final directory digests. Each time a re-run converges to the clean
  catalogue and `meta_db check` exits 0;
- integers that fit in 32 bits are stored as int32 in the clean and in every converged catalogue (docs/mongodb.md);
  the comparisons above count int32 and int64 of one value as equal so that a type drift is reported once, here;
- a failing command prints exactly one line on stderr (`meta_db: ...`) and nothing on stdout (its JSON channel);
- bad connection strings exit 2 with one line naming the problem (`ingest`, and `serve` for three of them):
  `mongodb://`, an unknown option `?foo=1`, `w=0`, a bad database name, malformed strings carrying a password (never
  printed); a mistyped scheme with credentials (`mongdb://user:password@...`, taken for a SQLite path) must not print
  the password either;
- rejected credentials: FerretDB v1.24 enforces authentication only with `--test-enable-new-auth` (plus
  `--setup-username/--setup-password` for the first user), so this test starts one such server directly from the
  cached binary (`scripts/ferretdb.sh build`): a wrong password and an unknown user exit 2 with one line naming
  127.0.0.1:PORT and never the password, the right password works (the control), no credentials at all is exit 2 too;
  `serve` with a wrong password either exits 2 or answers /health 503 naming the credentials and 503 to data requests
  (a 400 would blame the client's request), without the password anywhere; `serve` without credentials must not answer
  /health 200 while it cannot read a thing.

Every wait is bounded (at most 60 s); all network is on 127.0.0.1; every server and process this test starts is
stopped at the end, also on failure. Usage: faults_test.py [--binary build/meta_db] [--repo DIR]
(env META_DB_BIN also names the binary). Prints one line per check and finally "N passed, N failed".
"""
import argparse
import datetime
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.parse
import urllib.request


try:
    import pymongo
    from bson import Int64, ObjectId
    from pymongo.errors import PyMongoError
except ImportError as error:  # pragma: no cover - the environment is broken, not the product
    print(f"faults_test: needs Debian's python3-pymongo: {error}", file=sys.stderr)
    print("0 passed, 1 failed")
    sys.exit(1)

from catalogue_checks import (LEDGER_TIMESTAMPS, TIMESTAMPS, Problems, Results, case_set, check_int32, ordered_equal,
                              remap, require, same_type, short, small_int64_paths, strip, summary_of)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from serve_process import ServeProcess  # noqa: E402

WAIT = 30                 # seconds: an ordinary wait (a server up, a request answered)
FAIL_WITHIN = 60          # seconds: an ingest whose server was killed must have failed by then
UNREACHABLE_WITHIN = 15   # seconds: a command against a closed port must have failed by then
INGEST_TIMEOUT = 60       # seconds: one ingest of the small archive (a few seconds on FerretDB)
# When the ingest process is killed, as fractions of a clean ingest's time (which is 1-4 s here, depending on the
# build and the machine's load): early (stores opening, first parses), mid-way, late (second batch, ledger).
INGEST_KILLS = (0.3, 0.6, 0.9)
COLLECTION = "LIDC-IDRI"
PASSWORD = "S3cret-Pw-4711"
COMPARED = ("studies", "series", "instances", "collections", "researchers", "jobs", "ingest_files", "ingest_dirs",
            "ingest_errors")


def note(message):
    print(f"faults_test: {message}", flush=True)


def closed_port():
    """A port on 127.0.0.1 nothing listens on (bound once to get it, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def with_database(uri, database):
    parts = urllib.parse.urlsplit(uri)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, ""))


def port_of(uri):
    return urllib.parse.urlsplit(uri).port


# ------------------------------------------------------------------------------------------------------------------
# Processes


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class FerretDB:
    """A FerretDB of this test through scripts/ferretdb.sh in its own state dir: started (on a given port, for a
    restart on the same data and port), killed with -9, stopped."""

    def __init__(self, repo, state):
        self.script = os.path.join(repo, "scripts", "ferretdb.sh")
        self.state = state
        self.uri = None
        self.port = None

    def start(self, port=None):
        command = [self.script, "start", self.state] + (["--port", str(port)] if port else [])
        proc = subprocess.run(command, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            raise AssertionError(f"{' '.join(command[1:])} failed: {short(proc.stderr)}")
        self.uri = proc.stdout.strip().splitlines()[-1]
        self.port = port_of(self.uri)
        return self.uri

    def pid(self):
        try:
            with open(os.path.join(self.state, "pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def kill9(self):
        pid = self.pid()
        require(pid is not None and pid_alive(pid), f"no live FerretDB in {self.state} to kill")
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        require(not pid_alive(pid), f"FerretDB {pid} still alive 10 s after SIGKILL")

    def stop(self):
        subprocess.run([self.script, "stop", self.state], capture_output=True, timeout=60, stdin=subprocess.DEVNULL)


class AuthFerretDB:
    """FerretDB that enforces authentication: only with --test-enable-new-auth (v1.24), the first user made with
    --setup-username/--setup-password. scripts/ferretdb.sh has no such option, so the cached binary is run directly."""

    def __init__(self, repo, state, user, password):
        self.state, self.user, self.password = state, user, password
        self.proc = None
        self.port = None
        self.log = None
        build = subprocess.run([os.path.join(repo, "scripts", "ferretdb.sh"), "build"], capture_output=True,
                               text=True, timeout=600, stdin=subprocess.DEVNULL)
        require(build.returncode == 0, f"scripts/ferretdb.sh build failed: {short(build.stderr)}")
        self.binary = build.stdout.strip().splitlines()[-1]

    def start(self):
        os.makedirs(os.path.join(self.state, "data"), exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("FERRETDB_")}
        for _ in range(3):
            self.port = closed_port()
            self.log = open(os.path.join(self.state, "ferretdb.log"), "ab")
            self.proc = subprocess.Popen(
                [self.binary, "--handler=sqlite", f"--sqlite-url=file:{self.state}/data/",
                 f"--listen-addr=127.0.0.1:{self.port}", "--debug-addr=-", f"--state-dir={self.state}",
                 "--telemetry=disable", "--test-enable-new-auth", "--setup-database=admin",
                 f"--setup-username={self.user}", f"--setup-password={self.password}"],
                stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, env=env)
            uri = f"mongodb://{self.user}:{self.password}@127.0.0.1:{self.port}/?authSource=admin"
            deadline = time.monotonic() + WAIT
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    with pymongo.MongoClient(uri, serverSelectionTimeoutMS=500, connectTimeoutMS=500,
                                             directConnection=True) as c:
                        c.admin.command("listDatabases")
                        return self.port
                except PyMongoError:
                    time.sleep(0.1)
            self.stop()
        raise AssertionError(f"FerretDB with authentication did not start (log {self.state}/ferretdb.log)")

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.log is not None:
            self.log.close()
            self.log = None


def meta_db(binary, *args, timeout=INGEST_TIMEOUT):
    """Runs meta_db; returns (CompletedProcess, seconds). A timeout is an AssertionError (the process is killed)."""
    started = time.monotonic()
    try:
        proc = subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as error:
        stderr = error.stderr.decode(errors="replace") if isinstance(error.stderr, bytes) else (error.stderr or "")
        raise AssertionError(f"meta_db {' '.join(args)} still running after {timeout}s (killed); stderr: "
                             f"{short(stderr)}")
    return proc, time.monotonic() - started


def meta_db_ok(binary, *args, timeout=INGEST_TIMEOUT):
    proc, _ = meta_db(binary, *args, timeout=timeout)
    require(proc.returncode == 0, f"meta_db {' '.join(args)} exited {proc.returncode}: {short(proc.stderr)}")
    return proc


def one_line(stderr, what, stdout=""):
    """A failed command's output: stderr exactly one line, meta_db's `meta_db: ...` reason, and nothing on stdout
    (where a command's JSON goes: a log line there breaks `meta_db stats | jq`); returns the line."""
    noise = [line for line in (stdout or "").splitlines() if line.strip()]
    require(not noise, f"{what}: stdout is not empty on failure: {noise[:4]}")
    lines = [line for line in stderr.splitlines() if line.strip()]
    require(len(lines) == 1, f"{what}: stderr is {len(lines)} lines, not one: {lines[:6]}")
    require(lines[0].startswith("meta_db: "), f"{what}: the line is not meta_db's reason: {lines[0]!r}")
    return lines[0]


def no_password(texts, what, password=PASSWORD):
    for text in texts:
        for form in {password, urllib.parse.quote(password, safe="")}:
            require(form not in (text or ""), f"{what}: the password is printed: {short(text, 400)!r}")


class Serve(ServeProcess):
    """`meta_db serve` on a free port; `started()` says whether it came up."""

    def __init__(self, binary, uri):
        super().__init__(binary, uri, wait=WAIT, require_start=False)

    def request(self, method, path, body=None, timeout=WAIT):
        """(status, parsed JSON or text, seconds)."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if body is not None else {}
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method, headers=headers)
        started = time.monotonic()
        try:
            with urllib.request.urlopen(req, timeout=timeout) as answer:
                status, raw = answer.status, answer.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        try:
            parsed = json.loads(raw)
        except ValueError:
            parsed = raw.decode(errors="replace")
        return status, parsed, time.monotonic() - started

    def wait_status(self, path, want, timeout):
        """Polls until `path` answers `want`; returns (answer, seconds waited)."""
        started = time.monotonic()
        last = None
        while time.monotonic() - started < timeout:
            try:
                last = self.request("GET", path, timeout=10)
                if last[0] == want:
                    return last, time.monotonic() - started
            except OSError as error:
                last = (None, str(error), 0)
            require(self.proc.poll() is None, f"serve exited ({self.proc.returncode}): {short(self.text())}")
            time.sleep(0.25)
        raise AssertionError(f"GET {path} did not answer {want} within {timeout}s; last: {last}")

    def text(self):
        return "".join(self.output)


# ------------------------------------------------------------------------------------------------------------------
# Catalogue comparison (as tests/mongo/scale_out_test.py)


def snapshot(db):
    return {kind: {doc["_id"]: doc for doc in db[kind].find()} for kind in COMPARED}


def describe_difference(path, got, want, problems):
    if isinstance(got, dict) and isinstance(want, dict):
        for key in sorted(set(got) | set(want)):
            if key not in got:
                problems.add(f"{path}.{key}: missing (reference has {want[key]!r:.120})")
            elif key not in want:
                problems.add(f"{path}.{key}: extra ({got[key]!r:.120})")
            else:
                describe_difference(f"{path}.{key}", got[key], want[key], problems)
        if got == want and list(got) != list(want):
            problems.add(f"{path}: field order {list(got)} != reference {list(want)}")
        return
    if isinstance(got, list) and isinstance(want, list) and len(got) == len(want):
        for i, (g, w) in enumerate(zip(got, want)):
            describe_difference(f"{path}[{i}]", g, w, problems)
        return
    if got != want or not same_type(got, want):
        problems.add(f"{path}: {got!r:.200} != reference {want!r:.200}")


def compare_catalogues(got, want, what):
    problems = Problems()
    got_by_name = {d["name"]: d for d in got["collections"].values()}
    want_by_name = {d["name"]: d for d in want["collections"].values()}
    problems.expect(len(got_by_name) == len(got["collections"]), f"{what}: two collections with one name")
    problems.expect(set(got_by_name) == set(want_by_name),
                    f"{what}: collections {sorted(got_by_name)} != reference {sorted(want_by_name)}")
    id_map = {g["_id"]: want_by_name[name]["_id"] for name, g in got_by_name.items() if name in want_by_name}
    for name in sorted(set(got_by_name) & set(want_by_name)):
        g, w = got_by_name[name], want_by_name[name]
        gs, ws = case_set(g), case_set(w)
        problems.expect(len(gs) == len(g.get("cases", [])), f"{what}: collection {name}: duplicate cases")
        problems.expect(gs == ws, f"{what}: collection {name}: cases differ: only here {sorted(gs - ws)}, "
                                  f"only in the reference {sorted(ws - gs)}")
        g_rest = strip({k: v for k, v in g.items() if k not in ("_id", "cases")}, TIMESTAMPS)
        w_rest = strip({k: v for k, v in w.items() if k not in ("_id", "cases")}, TIMESTAMPS)
        if not ordered_equal(g_rest, w_rest):
            describe_difference(f"{what}: collections[{name}]", g_rest, w_rest, problems)
    for kind in COMPARED:
        if kind == "collections":
            continue
        drop = TIMESTAMPS | LEDGER_TIMESTAMPS.get(kind, set())
        g_docs, w_docs = got[kind], want[kind]
        only_got = sorted(set(g_docs) - set(w_docs), key=str)
        only_want = sorted(set(w_docs) - set(g_docs), key=str)
        problems.expect(not only_got, f"{what}: {kind}: {len(only_got)} _ids not in the clean ingest (doubled?), "
                                      f"e.g. {[str(i) for i in only_got[:3]]}")
        problems.expect(not only_want, f"{what}: {kind}: {len(only_want)} _ids of the clean ingest missing (lost), "
                                       f"e.g. {[str(i) for i in only_want[:3]]}")
        differing = 0
        for _id in sorted(set(g_docs) & set(w_docs), key=str):
            g = remap(strip(g_docs[_id], drop), id_map)
            w = strip(w_docs[_id], drop)
            if not ordered_equal(g, w):
                differing += 1
                if differing <= 5:
                    describe_difference(f"{what}: {kind}[{_id}]", g, w, problems)
        if differing > 5:
            problems.add(f"{what}: {kind}: {differing} documents differ in all")
        for doc in g_docs.values():
            for field in TIMESTAMPS & set(doc):
                problems.expect(isinstance(doc[field], datetime.datetime),
                                f"{what}: {kind}[{doc['_id']}].{field} {doc[field]!r} is not a date")
    problems.raise_if_any(f"differences from a clean ingest ({what})")


def check_consistent(binary, uri):
    proc, _ = meta_db(binary, "check", "--db", uri, "--quiet")
    report = proc.stdout.strip()
    require(proc.returncode == 0, f"meta_db check exited {proc.returncode}: {short(report, 800)} "
                                  f"{short(proc.stderr)}")
    require(json.loads(report.splitlines()[-1]).get("violations") == 0, f"meta_db check: {short(report)}")


# ------------------------------------------------------------------------------------------------------------------
# Unreachable at start


def check_unreachable_commands(binary, archive):
    port = closed_port()
    plain = f"mongodb://127.0.0.1:{port}/unreachable"
    secret = f"mongodb://alice:{PASSWORD}@127.0.0.1:{port}/unreachable"
    runs = [("ingest", ["ingest", archive, "--db", plain, "--quiet"]),
            ("stats", ["stats", "--db", plain]),
            ("check", ["check", "--db", plain, "--quiet"]),
            ("ingest, credentials in the URI", ["ingest", archive, "--db", secret, "--quiet"]),
            ("stats, credentials in the URI", ["stats", "--db", secret])]
    outcomes = [None] * len(runs)

    def one(i, args):
        try:
            outcomes[i] = meta_db(binary, *args, timeout=UNREACHABLE_WITHIN + 15)
        except AssertionError as error:
            outcomes[i] = error

    threads = [threading.Thread(target=one, args=(i, args)) for i, (_, args) in enumerate(runs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(UNREACHABLE_WITHIN + 30)
    problems = Problems()
    for (what, args), outcome in zip(runs, outcomes):
        if not isinstance(outcome, tuple):
            problems.add(f"{what}: {outcome}")
            continue
        proc, seconds = outcome
        problems.expect(proc.returncode == 3, f"{what}: exit {proc.returncode}, expected 3: {short(proc.stderr)}")
        problems.expect(seconds <= UNREACHABLE_WITHIN, f"{what}: failed after {seconds:.1f}s (> {UNREACHABLE_WITHIN}s)")
        try:
            line = one_line(proc.stderr, what, proc.stdout)
            problems.expect(f"127.0.0.1:{port}" in line, f"{what}: the reason does not name 127.0.0.1:{port}: {line}")
            no_password([proc.stdout, proc.stderr], what)
        except AssertionError as error:
            problems.add(str(error))
        if proc.returncode == 3 and seconds <= UNREACHABLE_WITHIN:
            note(f"unreachable, {what}: exit 3 after {seconds:.1f}s: {short(proc.stderr, 200)}")
    problems.raise_if_any("wrong answers to an unreachable server")


# ------------------------------------------------------------------------------------------------------------------
# serve while the server is down, then up, then killed, then up again


def check_serve_recovers(binary, repo, tmp, archive, manifest):
    port = closed_port()
    uri = f"mongodb://127.0.0.1:{port}/recover"
    serve = Serve(binary, uri)
    ferret = FerretDB(repo, os.path.join(tmp, "ferretdb-recover"))
    try:
        require(serve.started(), f"serve did not start while the server is down: {short(serve.text())}")
        pid = serve.proc.pid
        status, body, seconds = serve.request("GET", "/health")
        require(status == 503, f"/health with the server down -> {status} {body} (expected 503)")
        require(isinstance(body, dict) and body.get("status") == "unavailable" and body.get("reason"),
                f"/health 503 body {body} lacks status unavailable and a reason")
        require(f"127.0.0.1:{port}" in body["reason"], f"/health reason does not name 127.0.0.1:{port}: {body}")
        require(seconds <= 10, f"/health took {seconds:.1f}s to answer while the server is down")
        status, body, _ = serve.request("GET", "/series?limit=5")
        require(status == 503 and isinstance(body, dict) and body.get("error", {}).get("code") == "unavailable",
                f"GET /series with the server down -> {status} {body} (expected 503 unavailable)")
        note(f"serve with the server down: /health 503 in {seconds:.1f}s: {body['error']['message'][:150]}")

        ferret.start(port)
        (status, body, _), waited = serve.wait_status("/health", 200, WAIT)
        require(serve.proc.poll() is None and serve.proc.pid == pid, "serve was restarted")
        note(f"FerretDB up on {port}: /health 200 after {waited:.1f}s")
        status, body, _ = serve.request("GET", "/series?limit=5")
        require(status == 200 and body.get("total") == 0, f"GET /series after recovery -> {status} {body}")

        meta_db_ok(binary, "ingest", archive, "--db", uri, "--collection", COLLECTION, "--quiet")
        status, body, _ = serve.request("GET", "/series?limit=50")
        require(status == 200 and body.get("total") == manifest["series"],
                f"GET /series after an ingest -> {status} total {body.get('total') if isinstance(body, dict) else body}"
                f", expected {manifest['series']}")

        ferret.kill9()
        (status, body, _), waited = serve.wait_status("/health", 503, WAIT)
        require(f"127.0.0.1:{port}" in body.get("reason", ""), f"/health after the kill: {body}")
        status, body, _ = serve.request("GET", "/series?limit=5")
        require(status == 503, f"GET /series with the server killed -> {status} {body}")
        note(f"FerretDB killed: /health 503 after {waited:.1f}s")

        ferret.start(port)
        (status, body, _), waited = serve.wait_status("/health", 200, WAIT)
        require(serve.proc.poll() is None and serve.proc.pid == pid, "serve was restarted")
        status, body, _ = serve.request("GET", "/series?limit=50")
        require(status == 200 and body.get("total") == manifest["series"],
                f"GET /series after the second recovery -> {status} {body if status != 200 else body.get('total')}")
        note(f"FerretDB restarted on the same data and port: /health 200 after {waited:.1f}s, the series still there")
    finally:
        serve.stop()
        ferret.stop()


# ------------------------------------------------------------------------------------------------------------------
# Kills mid-ingest


class Killing:
    """The FerretDB the kill tests run against (restarted on its data dir and port) and the clean reference."""

    def __init__(self, binary, repo, tmp, archive):
        self.binary, self.archive = binary, archive
        self.ferret = FerretDB(repo, os.path.join(tmp, "ferretdb-kill"))
        self.client = None
        self.reference = None
        self.clean_seconds = None

    def setup(self):
        self.ferret.start()
        self.port = self.ferret.port
        self.server = self.ferret.uri
        self.client = pymongo.MongoClient(self.server, serverSelectionTimeoutMS=WAIT * 1000, tz_aware=False)
        started = time.monotonic()
        meta_db_ok(self.binary, "ingest", self.archive, "--db", self.uri("clean"), "--collection", COLLECTION,
                   "--quiet")
        self.clean_seconds = time.monotonic() - started
        self.reference = snapshot(self.client["clean"])
        note(f"clean ingest on FerretDB {self.server}: {self.clean_seconds:.1f}s")

    def uri(self, database):
        return with_database(self.server, database)

    def ensure_up(self):
        """Restarts FerretDB on the same data dir and port when it is not running."""
        pid = self.ferret.pid()
        if pid is None or not pid_alive(pid):
            self.ferret.start(self.port)

    def ingest(self, database):
        return subprocess.Popen([self.binary, "ingest", self.archive, "--db", self.uri(database), "--collection",
                                 COLLECTION, "--quiet"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    def converges(self, database, what):
        """Re-runs the ingest (FerretDB restarted first if it is down); the catalogue must then be the clean one.
        Returns the re-run's summary, with "rerun_seconds" (wall clock) added."""
        self.ensure_up()
        started = time.monotonic()
        summary = summary_of(meta_db_ok(self.binary, "ingest", self.archive, "--db", self.uri(database),
                                        "--collection", COLLECTION, "--quiet"))
        summary["rerun_seconds"] = time.monotonic() - started
        compare_catalogues(snapshot(self.client[database]), self.reference, what)
        check_consistent(self.binary, self.uri(database))
        return summary

    def close(self):
        if self.client is not None:
            self.client.close()
        self.ferret.stop()


def wait_for_files(server, database, deadline):
    """Polls until ingest_files of `database` holds a record (or the deadline); True when it does."""
    with pymongo.MongoClient(server, serverSelectionTimeoutMS=1000, connectTimeoutMS=1000) as poller:
        while time.monotonic() < deadline:
            try:
                if poller[database].ingest_files.find_one({}, {"_id": 1}) is not None:
                    return True
            except PyMongoError:
                pass
            time.sleep(0.05)
    return False


def check_server_killed_mid_ingest(kill, database, trigger):
    """trigger: a fraction of the clean ingest's time, or "files" (as soon as ingest_files holds a record).
    The failure of the killed ingest and the convergence after the restart are judged separately (both reported)."""
    kill.ensure_up()
    problems = Problems()
    started = time.monotonic()
    proc = kill.ingest(database)
    try:
        if trigger != "files":
            delay = trigger * kill.clean_seconds
            time.sleep(delay)
            if proc.poll() is not None:
                # The clean ingest was timed while other suites shared the cores: this one ran faster. Timed again
                # by this run, on a fresh database, once.
                took = time.monotonic() - started
                note(f"the ingest ended before the kill at {delay:.1f}s ({took:.1f}s or less): again, at "
                     f"~{trigger:.0%} of {took:.1f}s")
                kill.client.drop_database(database)
                delay = trigger * min(took, delay)
                proc = kill.ingest(database)
                time.sleep(delay)
            when = f"after {delay:.1f}s (~{trigger:.0%} of a clean ingest)"
        else:
            found = wait_for_files(kill.server, database, started + kill.clean_seconds * 3 + 10)
            require(found, "ingest_files never got a record")
            when = f"once ingest_files had a record ({time.monotonic() - started:.1f}s)"
        require(proc.poll() is None, f"the ingest ended (exit {proc.returncode}) before the kill {when}: the archive "
                                     f"is too small for this machine")
        files_before = kill.client[database].ingest_files.count_documents({})
        kill.ferret.kill9()
        killed_at = time.monotonic()
        try:
            stdout, stderr = proc.communicate(timeout=FAIL_WITHIN)
            seconds = time.monotonic() - killed_at
            note(f"FerretDB killed {when} ({files_before} file records): ingest exit {proc.returncode} "
                 f"{seconds:.1f}s later: {short(stderr, 300)}")
            problems.expect(proc.returncode == 3, f"ingest exit {proc.returncode} after the server was killed "
                                                  f"(expected 3): {short(stderr)}")
            try:
                line = one_line(stderr, "ingest after the server was killed", stdout)
                problems.expect("MongoDB" in line, f"the reason does not say it is MongoDB: {line}")
            except AssertionError as error:
                problems.add(str(error))
        except subprocess.TimeoutExpired:
            proc.kill()
            _, stderr = proc.communicate(timeout=10)
            problems.add(f"FerretDB killed {when} ({files_before} file records): ingest still running {FAIL_WITHIN}s "
                         f"later (then killed by the test); stderr: {short(stderr) or '(nothing)'}")
            note(problems.items[-1])
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    # Restarted on the same data dir and port (converges does it), a re-run completes the catalogue.
    try:
        summary = kill.converges(database, f"server killed ({trigger}), restarted on its data and port, re-run")
        note(f"after the restart the re-run ({summary['rerun_seconds']:.1f}s) parsed {summary['dicom_parsed']} files "
             f"and converged")
    except AssertionError as error:
        problems.add(str(error).replace("\n", "\n  "))
    problems.raise_if_any("failures around a FerretDB killed mid-ingest")


def check_ingest_killed(kill, database, fractions):
    """Kills the ingest process (-9) after each fraction of a clean ingest's time in turn, then re-runs it."""
    kill.ensure_up()
    outcomes = []
    for fraction in fractions:
        delay = fraction * kill.clean_seconds
        proc = kill.ingest(database)
        time.sleep(delay)
        if proc.poll() is None:
            proc.kill()
            outcomes.append(f"killed after {delay:.1f}s")
        else:
            outcomes.append(f"finished (exit {proc.returncode}) before {delay:.1f}s")
        proc.communicate(timeout=10)
    files = kill.client[database].ingest_files.count_documents({})
    errors = kill.client[database].ingest_errors.count_documents({})
    instances = kill.client[database].instances.count_documents({})
    state = f"{files} file records, {errors} error entries, {instances} instances stored"
    summary = kill.converges(database, f"ingest {', '.join(outcomes)} ({state}), re-run")
    note(f"ingest {', '.join(outcomes)} ({state}): the re-run ({summary['rerun_seconds']:.1f}s) parsed "
         f"{summary['dicom_parsed']} files and converged")


class CutProxy:
    """A TCP proxy on 127.0.0.1 in front of FerretDB that reads the wire protocol (OP_MSG) from the client and, once
    armed, drops every connection the moment the client sends a given command on a given collection (that command
    never reaches the server) and refuses connections until resumed: the server lost exactly between two writes."""

    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.sockets = set()
        self.rule = None
        self.down = False
        self.cut = threading.Event()
        self.seen = []  # (command, argument) of every OP_MSG forwarded, in order
        self.closed = False
        self.thread = threading.Thread(target=self.accept, daemon=True)
        self.thread.start()

    def arm(self, command, collection, nth=1, lacks=None):
        """Cut at the nth `command` on `collection` (whose message does not contain the bytes `lacks`)."""
        with self.lock:
            self.rule = [command, collection, nth, lacks]
            self.cut.clear()
            self.down = False

    def resume(self):
        with self.lock:
            self.rule = None
            self.down = False

    def accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                down = self.down
            if down:
                client.close()
                continue
            try:
                server = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets.update((client, server))
            threading.Thread(target=self.from_client, args=(client, server), daemon=True).start()
            threading.Thread(target=self.from_server, args=(server, client), daemon=True).start()

    @staticmethod
    def recv_exact(sock, n):
        data = bytearray()
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                return None
            data += chunk
        return bytes(data)

    @staticmethod
    def command_of(opcode, body):
        """(command name, its string argument) of an OP_MSG's body section, else None."""
        if opcode != 2013 or len(body) < 12 or body[4] != 0:
            return None
        kind, pos = body[9], 10
        end = body.index(b"\0", pos)
        name = body[pos:end].decode(errors="replace")
        if kind != 2:
            return name, None
        length = int.from_bytes(body[end + 1:end + 5], "little")
        return name, body[end + 5:end + 4 + length].decode(errors="replace")

    def drop_all(self):
        with self.lock:
            sockets, self.sockets = self.sockets, set()
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def from_client(self, client, server):
        triggered = False
        try:
            while True:
                header = self.recv_exact(client, 16)
                if header is None:
                    break
                length = int.from_bytes(header[:4], "little")
                body = self.recv_exact(client, length - 16)
                if body is None:
                    break
                found = self.command_of(int.from_bytes(header[12:16], "little"), body)
                with self.lock:
                    rule = self.rule
                    if found is not None and found[0] not in ("hello", "isMaster", "ismaster", "ping"):
                        self.seen.append(found)
                    hit = (rule is not None and found is not None and found[0] == rule[0] and found[1] == rule[1]
                           and (rule[3] is None or rule[3] not in body))
                    if hit:
                        rule[2] -= 1
                        hit = rule[2] == 0
                    if hit:
                        self.down = True
                        self.rule = None
                if hit:
                    self.cut.set()
                    triggered = True
                    break
                server.sendall(header + body)
        except (OSError, ValueError):
            pass
        if triggered:
            self.drop_all()
        else:
            for sock in (client, server):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def from_server(self, server, client):
        try:
            while True:
                data = server.recv(65536)
                if not data:
                    break
                client.sendall(data)
        except OSError:
            pass
        for sock in (client, server):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def close(self):
        self.closed = True
        try:
            self.listener.close()
        except OSError:
            pass
        self.drop_all()


# The points where the server is lost (that command never reaches it) and the ingest process dies at once:
# (command, collection, which occurrence, bytes the message must not contain, what happens there). The order of a
# unit's writes is docs/mongodb.md's: catalogue (parents first), directory digests cleared, file records, errors.
CUTS = [("update", "studies", 1, None, "the first studies' series[] summaries are written"),
        ("update", "collections", 1, None, "the first batch's cases are merged into the collection"),
        ("update", "ingest_dirs", 1, None, "the first batch clears its directories' digests"),
        ("insert", "ingest_files", 1, None, "the first batch's file records are written"),
        ("update", "ingest_errors", 1, None, "the error register is written, after that batch's file records"),
        ("insert", "instances", 2, None, "the second batch's instances are inserted"),
        ("insert", "ingest_files", 2, None, "the second batch's file records are written"),
        ("update", "ingest_dirs", 1, b"$setOnInsert", "the directory digests are recorded at the end")]


def check_cut(kill, proxy, database, command, collection, nth, lacks):
    """The ingest runs through the proxy; the moment it sends `command` on `collection` (the nth time) the server is
    gone and the process is killed -9 (a crash exactly there); then a re-run converges."""
    kill.ensure_up()
    uri = f"mongodb://127.0.0.1:{proxy.port}/{database}"
    proxy.arm(command, collection, nth, lacks)
    proc = subprocess.Popen([kill.binary, "ingest", kill.archive, "--db", uri, "--collection", COLLECTION, "--quiet"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + INGEST_TIMEOUT
        while not proxy.cut.is_set() and proc.poll() is None and time.monotonic() < deadline:
            proxy.cut.wait(0.05)
        cut = proxy.cut.is_set()
        if proc.poll() is None:
            proc.kill()
        _, stderr = proc.communicate(timeout=10)
        require(cut, f"the ingest never sent {command} on {collection} (#{nth}) (exit {proc.returncode}): "
                     f"{short(stderr)}")
    finally:
        proxy.resume()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    db = kill.client[database]
    state = (f"{db.instances.count_documents({})} instances, {db.ingest_files.count_documents({})} file records, "
             f"{db.ingest_errors.count_documents({})} error entries, {db.ingest_dirs.count_documents({})} dirs stored")
    summary = kill.converges(database, f"cut at {command} {collection} #{nth} ({state}), re-run")
    note(f"cut at {command} {collection} #{nth} ({state}): the re-run ({summary['rerun_seconds']:.1f}s) parsed "
         f"{summary['dicom_parsed']} files and converged")


# ------------------------------------------------------------------------------------------------------------------
# Bad connection strings and credentials


def check_bad_uri(binary, archive, uri, expect_code, names, what, password=None):
    proc, seconds = meta_db(binary, "ingest", archive, "--db", uri, "--quiet", timeout=UNREACHABLE_WITHIN + 15)
    require(proc.returncode == expect_code, f"{what}: exit {proc.returncode}, expected {expect_code}: "
                                            f"{short(proc.stderr)}")
    line = one_line(proc.stderr, what, proc.stdout)
    for name in names:
        require(name.lower() in line.lower(), f"{what}: the reason does not name {name!r}: {line}")
    if password:
        no_password([proc.stdout, proc.stderr], what, password)
    require(seconds <= UNREACHABLE_WITHIN, f"{what}: took {seconds:.1f}s")
    return line


def bad_uri_cases():
    port = closed_port()
    at = f"127.0.0.1:{port}"
    return [
        ("mongodb:// (no host)", "mongodb://", 2, ["URI"], None),
        ("an unknown option ?foo=1", f"mongodb://{at}/x?foo=1", 2, ["foo"], None),
        ("w=0", f"mongodb://{at}/x?w=0", 2, ["w=0"], None),
        ("a bad database name", f"mongodb://{at}/bad$name", 2, ["database name"], None),
        ("credentials and an unknown option", f"mongodb://alice:{PASSWORD}@{at}/x?foo=1", 2, ["foo"], PASSWORD),
        ("credentials and w=0", f"mongodb://alice:{PASSWORD}@{at}/x?w=0", 2, ["w=0"], PASSWORD),
        ("credentials and no host", f"mongodb://alice:{PASSWORD}@", 2, ["URI"], PASSWORD),
        ("credentials and a port that is no number", f"mongodb://alice:{PASSWORD}@127.0.0.1:port/x", 2, ["URI"],
         PASSWORD),
        ("credentials and a bad escape in the password", f"mongodb://alice:{PASSWORD}%zz@{at}/x", 2, ["password"],
         PASSWORD),
        ("credentials and a bad option value", f"mongodb://alice:{PASSWORD}@{at}/x?tls=maybe", 2, ["tls"], PASSWORD),
    ]


def check_bad_uri_serve(binary, uri, names, what):
    """serve refuses a bad connection string at once (exit 2, one line), before listening."""
    try:
        proc = subprocess.run([binary, "serve", "--db", uri, "--port", "0", "--threads", "1"], capture_output=True,
                              text=True, timeout=UNREACHABLE_WITHIN, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as error:
        out = error.stdout.decode(errors="replace") if isinstance(error.stdout, bytes) else (error.stdout or "")
        raise AssertionError(f"serve with {what} still running after {UNREACHABLE_WITHIN}s (killed): {short(out)}")
    require(proc.returncode == 2, f"serve with {what}: exit {proc.returncode}, expected 2: "
                                  f"{short(proc.stdout + proc.stderr)}")
    line = one_line(proc.stderr, f"serve with {what}", proc.stdout)
    for name in names:
        require(name.lower() in line.lower(), f"serve with {what}: the reason does not name {name!r}: {line}")


def check_mistyped_scheme(binary, archive):
    """A mistyped scheme is not a MongoDB URI (it is taken for a SQLite path): whatever it answers, the password in
    it must not be printed."""
    port = closed_port()
    proc, _ = meta_db(binary, "ingest", archive, "--db", f"mongdb://alice:{PASSWORD}@127.0.0.1:{port}/x", "--quiet",
                      timeout=UNREACHABLE_WITHIN + 15)
    require(proc.returncode != 0, f"a mistyped scheme exited 0: {short(proc.stdout)}")
    one_line(proc.stderr, "mistyped scheme", proc.stdout)
    no_password([proc.stdout, proc.stderr], f"mistyped scheme (exit {proc.returncode})")


def check_credentials(binary, archive, auth):
    at = f"127.0.0.1:{auth.port}"
    problems = Problems()
    cases = [("a wrong password", f"mongodb://{auth.user}:{PASSWORD}@{at}/creds?authSource=admin"),
             ("a wrong password (no authSource)", f"mongodb://{auth.user}:{PASSWORD}@{at}/creds"),
             ("an unknown user", f"mongodb://mallory:{PASSWORD}@{at}/creds?authSource=admin")]
    for what, uri in cases:
        for command in (["ingest", archive, "--db", uri, "--quiet"], ["stats", "--db", uri],
                        ["check", "--db", uri, "--quiet"]):
            label = f"{command[0]} with {what}"
            try:
                proc, seconds = meta_db(binary, *command, timeout=UNREACHABLE_WITHIN + 15)
                problems.expect(proc.returncode == 2, f"{label}: exit {proc.returncode}, expected 2: "
                                                      f"{short(proc.stderr)}")
                line = one_line(proc.stderr, label, proc.stdout)
                problems.expect(at in line, f"{label}: the reason does not name {at}: {line}")
                problems.expect("credential" in line.lower() or "auth" in line.lower(),
                                f"{label}: the reason does not say the credentials were rejected: {line}")
                no_password([proc.stdout, proc.stderr], label)
                problems.expect(seconds <= UNREACHABLE_WITHIN, f"{label}: took {seconds:.1f}s")
            except AssertionError as error:
                problems.add(str(error))
    problems.raise_if_any("wrong answers to rejected credentials")


def check_right_credentials(binary, auth):
    uri = f"mongodb://{auth.user}:{auth.password}@127.0.0.1:{auth.port}/creds?authSource=admin"
    proc, _ = meta_db(binary, "stats", "--db", uri, timeout=WAIT)
    require(proc.returncode == 2 and "no catalogue" in proc.stderr,
            f"stats with the right password on a database without a catalogue: exit {proc.returncode} "
            f"{short(proc.stderr)}")
    with tempfile.TemporaryDirectory() as empty:  # an ingest (of an empty archive) creates the catalogue
        meta_db_ok(binary, "ingest", empty, "--db", uri, "--quiet", timeout=WAIT)
    proc = meta_db_ok(binary, "stats", "--db", uri, timeout=WAIT)
    require(json.loads(proc.stdout).get("studies") == 0, f"stats with the right password: {proc.stdout}")
    no_password([proc.stdout, proc.stderr], "stats with the right password", auth.password)


def check_no_credentials(binary, archive, auth):
    uri = f"mongodb://127.0.0.1:{auth.port}/creds"
    proc, _ = meta_db(binary, "ingest", archive, "--db", uri, "--quiet", timeout=UNREACHABLE_WITHIN + 15)
    line = one_line(proc.stderr, "ingest without credentials at a server that requires them", proc.stdout)
    require(proc.returncode == 2, f"ingest without credentials at a server requiring them: exit {proc.returncode}, "
                                  f"expected 2 (a configuration error, not an unavailable server): {line}")


def check_serve_rejected_credentials(binary, auth):
    uri = f"mongodb://{auth.user}:{PASSWORD}@127.0.0.1:{auth.port}/creds?authSource=admin"
    serve = Serve(binary, uri)
    try:
        if not serve.started():
            serve.proc.wait(WAIT)
            require(serve.proc.returncode == 2, f"serve with a wrong password exited {serve.proc.returncode}: "
                                                f"{short(serve.text())}")
            one_line(serve.text(), "serve with a wrong password")
            no_password([serve.text()], "serve with a wrong password")
            note("serve with a wrong password: exit 2")
            return
        status, health, _ = serve.request("GET", "/health")
        status_series, series, _ = serve.request("GET", "/series?limit=5")
        texts = [json.dumps(health), json.dumps(series)]
        no_password(texts, "serve with a wrong password: answers")
        require(status == 503 and "credential" in json.dumps(health).lower(),
                f"serve with a wrong password: /health {status} {health} (expected 503 naming the credentials)")
        require(status_series == 503, f"serve with a wrong password: GET /series -> {status_series} {series} (expected "
                                      f"503: the store is unusable; a 4xx blames the client's request)")
    finally:
        serve.stop()
        no_password([serve.text()], "serve with a wrong password: its log")


def check_serve_no_credentials(binary, auth):
    serve = Serve(binary, f"mongodb://127.0.0.1:{auth.port}/creds")
    try:
        require(serve.started(), f"serve did not start: {short(serve.text())}")
        status_series, series, _ = serve.request("GET", "/series?limit=5")
        status, health, _ = serve.request("GET", "/health")
        require(not (status == 200 and status_series != 200),
                f"serve without credentials at a server requiring them: /health {status} {health} while GET /series "
                f"answers {status_series} {series}")
    finally:
        serve.stop()


# ------------------------------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.environ.get("META_DB_BIN"))
    parser.add_argument("--repo", default=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    parser.add_argument("--patients", type=int, default=8)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (and print it)")
    args = parser.parse_args()
    binary = args.binary or shutil.which("meta_db")
    if not binary or not os.access(binary, os.X_OK):
        print("faults_test: no meta_db binary (--binary or META_DB_BIN)", file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    binary = os.path.abspath(binary)

    # ctest's timeout (or a ^C) must still stop every server and process this test started: the finally below.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    results = Results()
    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="meta_db-faults-")
    kill = auth = None
    try:
        archive = os.path.join(tmp, "archive")
        manifest = json.loads(meta_db_ok(binary, "synth", "--patients", str(args.patients), "--small", "--out",
                                         archive).stdout)
        note(f"archive of {manifest['files_total']} files, {manifest['instances']} instances")

        results.check("unreachable at start: ingest, stats, check exit 3 within 15 s, one line naming host:port, no "
                      "password", check_unreachable_commands, binary, archive)
        results.check("serve while the server is down: /health 503 with the reason, recovers by itself when it comes "
                      "up, again after a kill -9 and a restart", check_serve_recovers, binary, args.repo, tmp,
                      archive, manifest)

        for what, uri, code, names, password in bad_uri_cases():
            results.check(f"bad connection string, {what}: exit {code}, one line naming it"
                          + (", no password" if password else ""), check_bad_uri, binary, archive, uri, code, names,
                          what, password)
        for what, uri, code, names, password in bad_uri_cases()[:3]:
            results.check(f"serve with a bad connection string, {what}: exit 2 at once, one line naming it",
                          check_bad_uri_serve, binary, uri, names, what)
        results.check("a mistyped scheme with credentials: the password is not printed", check_mistyped_scheme,
                      binary, archive)

        def start_auth():
            nonlocal auth
            auth = AuthFerretDB(args.repo, os.path.join(tmp, "ferretdb-auth"), "alice", "Right-Pw-0815")
            port = auth.start()
            note(f"FerretDB with authentication (--test-enable-new-auth) on 127.0.0.1:{port}")

        if results.check("FerretDB enforcing authentication starts", start_auth):
            results.check("the right password works (control)", check_right_credentials, binary, auth)
            results.check("rejected credentials (wrong password, unknown user): ingest, stats, check exit 2, one line "
                          "naming host:port, no password", check_credentials, binary, archive, auth)
            results.check("no credentials at a server that requires them: exit 2", check_no_credentials, binary,
                          archive, auth)
            results.check("serve with a wrong password: exit 2, or /health 503 naming the credentials and data "
                          "requests 503; no password anywhere", check_serve_rejected_credentials, binary, auth)
            results.check("serve without credentials at a server requiring them: /health is not 200 while nothing "
                          "can be read", check_serve_no_credentials, binary, auth)
        if auth is not None:
            auth.stop()

        kill = Killing(binary, args.repo, tmp, archive)
        if results.check("clean ingest into a fresh database (the reference)", kill.setup):
            for i, fraction in enumerate((0.4, 0.6)):
                results.check(f"FerretDB killed -9 at ~{fraction:.0%} of the ingest: exit 3 within 60 s, one line; "
                              "restarted on the same data and port, a re-run converges to the clean catalogue, check 0",
                              check_server_killed_mid_ingest, kill, f"srvkill_{i}", fraction)
            results.check("FerretDB killed -9 once ingest_files has a record: exit 3 within 60 s, one line; "
                          "restarted, a re-run converges, check 0", check_server_killed_mid_ingest, kill,
                          "srvkill_files", "files")
            for i, fraction in enumerate(INGEST_KILLS):
                results.check(f"ingest killed -9 at ~{fraction:.0%} of its time ({fraction * kill.clean_seconds:.1f}s):"
                              f" a re-run converges to the clean catalogue, check 0",
                              check_ingest_killed, kill, f"ingkill_{i}", [fraction])
            results.check("ingest killed -9 three times in a row (at ~" + ", ".join(f"{f:.0%}" for f in INGEST_KILLS)
                          + ") on one database: a re-run converges, check 0", check_ingest_killed, kill,
                          "ingkill_chain", list(INGEST_KILLS))

            proxy = CutProxy(kill.port)
            try:
                for i, (command, collection, nth, lacks, what) in enumerate(CUTS):
                    results.check(f"server lost and ingest killed -9 exactly when {what} ({command} {collection} "
                                  f"#{nth}): a re-run converges to the clean catalogue, check 0", check_cut, kill,
                                  proxy, f"cut_{i}", command, collection, nth, lacks)
            finally:
                proxy.close()

            def int32_everywhere():
                problems = Problems(limit=80)
                names = ["clean"] + sorted(n for n in kill.client.list_database_names()
                                           if n.startswith(("srvkill_", "ingkill_", "cut_")))
                for name in names:
                    try:
                        check_int32(kill.client[name])
                    except AssertionError as error:
                        problems.add(str(error).replace("\n", "\n  "))
                problems.raise_if_any(f"of {len(names)} databases with int64 for 32-bit integers")

            results.check("the clean and every converged catalogue: integers that fit in 32 bits are int32",
                          int32_everywhere)
    except Exception as error:  # noqa: BLE001 - set-up failed: one failure, with the reason
        results.failed += 1
        print(f"FAIL set-up: {error}")
        traceback.print_exc()
    finally:
        if auth is not None:
            auth.stop()
        if kill is not None:
            kill.close()
        if args.keep:
            print(f"faults_test: kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"faults_test: {time.monotonic() - started:.1f}s")
    print(f"{results.passed} passed, {results.failed} failed")
    return 0 if results.failed == 0 and results.passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
