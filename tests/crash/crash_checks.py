"""Shared pieces of the crash and fault tests (tests/crash): running the real meta_db, reading a SQLite catalogue
with python3's own sqlite3 module, comparing it with a clean ingest's, PRAGMA integrity_check, `meta_db check`."""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "mongo"))
from catalogue_checks import Problems, Results, require, short, strip, summary_of  # noqa: E402,F401

CATALOGUE = ("studies", "series", "instances", "collections", "researchers", "jobs")
TIMESTAMPS = {"created_at", "updated_at"}
# The ledger's tables with the columns compared (the register's first_seen/last_seen are timestamps).
LEDGER = {"ingest_files": ("path", "size", "mtime_ns", "status", "sop_instance_uid"),
          "ingest_errors": ("path", "reason"),
          "ingest_dirs": ("path", "digest", "files")}


def note(test, message):
    print(f"{test}: {message}", flush=True)


def meta_db(binary, *args, timeout=120):
    """Runs meta_db; returns (CompletedProcess, seconds). A timeout is an AssertionError (the process is killed)."""
    started = time.monotonic()
    try:
        proc = subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as error:
        stderr = error.stderr.decode(errors="replace") if isinstance(error.stderr, bytes) else (error.stderr or "")
        raise AssertionError(f"meta_db {' '.join(args)} still running after {timeout}s (killed): {short(stderr)}")
    return proc, time.monotonic() - started


def meta_db_ok(binary, *args, timeout=120):
    proc, _ = meta_db(binary, *args, timeout=timeout)
    require(proc.returncode == 0, f"meta_db {' '.join(args)} exited {proc.returncode}: {short(proc.stderr)}")
    return proc


def kill9(proc):
    """SIGKILL and reap; True when the process was still running (killed), False when it had ended by itself."""
    if proc.poll() is not None:
        return False
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(30)
    return proc.returncode == -signal.SIGKILL


def connect_ro(path):
    """A read-only connection that never creates the file (and never checkpoints the log on close)."""
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)


def integrity(path):
    """PRAGMA integrity_check of the file, plus FTS5's own check of the series' text index against its content
    table (a separate structure that integrity_check does not look into); raises with what it found."""
    con = sqlite3.connect(path, timeout=10)
    try:
        rows = [r[0] for r in con.execute("PRAGMA integrity_check").fetchall()]
        require(rows == ["ok"], f"PRAGMA integrity_check of {path}: {rows[:10]}")
        has_fts = con.execute("SELECT 1 FROM sqlite_master WHERE name = 'series_fts'").fetchone()
        if has_fts:
            try:
                con.execute("INSERT INTO series_fts(series_fts, rank) VALUES ('integrity-check', 1)")
            except sqlite3.DatabaseError as error:
                raise AssertionError(f"FTS5 integrity-check of series_fts in {path}: {error}")
        con.rollback()
    finally:
        con.close()


def inspect_copy(binary, path, scratch):
    """integrity() and check_clean() on a copy of the file with its -wal and -shm, so that the original stays
    exactly as a crash left it (both open it read-write: SQLite would recover and checkpoint the log on close, and
    the next run would start from a tidied file instead of the crashed one)."""
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(scratch + suffix):
            os.remove(scratch + suffix)
        if os.path.exists(path + suffix):
            shutil.copyfile(path + suffix, scratch + suffix)
    try:
        integrity(scratch)
        check_clean(binary, f"sqlite:{scratch}")
    finally:
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(scratch + suffix):
                os.remove(scratch + suffix)


def check_clean(binary, db_uri, timeout=120):
    """`meta_db check` exits 0 and reports no violation."""
    proc, _ = meta_db(binary, "check", "--db", db_uri, "--quiet", timeout=timeout)
    report = proc.stdout.strip()
    require(proc.returncode == 0, f"meta_db check --db {db_uri} exited {proc.returncode}: {short(report, 1500)} "
                                  f"{short(proc.stderr)}")
    lines = report.splitlines()
    require(lines and json.loads(lines[-1]).get("violations") == 0, f"meta_db check --db {db_uri}: {short(report)}")


def snapshot(path):
    """{table: {key: normalised row}} of a SQLite catalogue: documents by _id (timestamps dropped), ledger rows by
    path. Collections are keyed by name (their _id is minted per database) and their cases kept as a sorted list."""
    con = connect_ro(path)
    try:
        out = {}
        for kind in CATALOGUE:
            docs = {}
            for doc_id, text in con.execute(f"SELECT id, doc FROM {kind} ORDER BY id"):
                docs[doc_id] = json.loads(text)
            out[kind] = docs
        for table, columns in LEDGER.items():
            rows = con.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY path").fetchall()
            out[table] = {row[0]: row[1:] for row in rows}
        return out
    finally:
        con.close()


def normalised(snap):
    """Timestamps dropped; the collection ids (minted per database) replaced by the collection's name everywhere;
    cases as a sorted list of (case_id, patient_id, accession numbers)."""
    name_of = {cid: doc.get("name") for cid, doc in snap["collections"].items()}

    def rename(value):
        if isinstance(value, dict):
            return {k: rename(v) for k, v in value.items()}
        if isinstance(value, list):
            return [rename(v) for v in value]
        if isinstance(value, str) and value in name_of:
            return f"<collection {name_of[value]}>"
        return value

    out = {}
    for kind in CATALOGUE:
        docs = {}
        for doc_id, doc in snap[kind].items():
            doc = rename(strip(doc, TIMESTAMPS))
            if kind == "collections":
                doc.pop("_id", None)
                doc["cases"] = sorted(json.dumps(c, sort_keys=True) for c in doc.get("cases", []))
                docs[doc.get("name")] = doc
            else:
                docs[doc_id] = doc
        out[kind] = docs
    for table in LEDGER:
        out[table] = dict(snap[table])
    return out


def differences(got, want, what, problems, limit=5):
    """Adds to `problems` every table whose keys or rows differ (order of fields included: JSON text is compared)."""
    got, want = normalised(got), normalised(want)
    for table in list(CATALOGUE) + list(LEDGER):
        g, w = got[table], want[table]
        only_got = sorted(set(g) - set(w), key=str)
        only_want = sorted(set(w) - set(g), key=str)
        problems.expect(not only_got, f"{what}: {table}: {len(only_got)} keys not in the clean ingest (doubled or "
                                      f"half-written?), e.g. {only_got[:3]}")
        problems.expect(not only_want, f"{what}: {table}: {len(only_want)} keys of the clean ingest missing (lost), "
                                       f"e.g. {only_want[:3]}")
        differing = [k for k in sorted(set(g) & set(w), key=str) if json.dumps(g[k]) != json.dumps(w[k])]
        for key in differing[:limit]:
            problems.add(f"{what}: {table}[{key}]: {json.dumps(g[key])[:400]} != clean {json.dumps(w[key])[:400]}")
        if len(differing) > limit:
            problems.add(f"{what}: {table}: {len(differing)} rows differ in all")


def counts(path):
    """Rows per table (a line for the log), or the reason they cannot be read."""
    try:
        con = connect_ro(path)
        try:
            return ", ".join(f"{con.execute(f'SELECT count(*) FROM {t}').fetchone()[0]} {t}"
                             for t in ("studies", "series", "instances", "ingest_files", "ingest_errors",
                                       "ingest_dirs"))
        finally:
            con.close()
    except sqlite3.Error as error:
        return f"(unreadable: {error})"
