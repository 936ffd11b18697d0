#!/usr/bin/env python3
"""`meta_db ingest` killed -9 at 20 seeded moments over a synth archive on SQLite, each kill followed by a re-run that
the next kill hits, and the chains ending in a re-run that completes: the catalogue then equals one clean ingest's.

The moments are chosen by progress, not only by time, so one seed means the same plan on a fast or a slow machine:
each kill waits until the database holds a target number of file records (read with python3's sqlite3 from a
read-only connection, polled every 10 ms), then a seeded extra delay, then SIGKILL. Kinds of moment:
- early: the target is what the database already holds, so the kill lands within a seeded 0-0.8 s of the start
  (opening the store, loading digests, the walk, the first parses; on a re-run: judging unchanged directories);
- mid-batch: a target a seeded share of the remaining files further on, plus up to one batch's time (the kill
  lands between two commits, while the next batch is parsed, written or committed);
- reconcile (last in a chain): every file record is in (the last batch committed), the kill lands within 0.15 s
  during what follows — directory digests recorded, the summary, the store's closing checkpoint — or the run
  completes first (counted as a completing re-run).
Checked after every kill, on a copy of the file with its -wal and -shm (so the re-run meets the crashed files, not
ones a checker has recovered and checkpointed): PRAGMA integrity_check ok, FTS5's integrity-check of the series
text index, and `meta_db check` exits 0 (every invariant holds after every commit, not only at the end). At the end of each chain
the completing re-run's catalogue equals the clean ingest's: studies, series, instances (same _ids, same JSON text
but created_at/updated_at), the collection by name (its _id is minted per database; references to it are compared
as its name), and the ledger (ingest_files rows, ingest_errors but first_seen/last_seen, ingest_dirs with digests).

The synth archive has broken files (empty, garbage, truncated), so the error register is crashed too.
Seed: --seed or META_DB_CRASH_SEED (printed). Usage: ingest_kill_test.py --binary build/meta_db [--seed N]
Prints one line per check and finally "N passed, N failed".
"""
import argparse
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import traceback

from crash_checks import (Problems, Results, check_clean, connect_ro, counts, differences, inspect_copy, integrity,
                          kill9, meta_db_ok, note, require, short, snapshot, summary_of)

NAME = "ingest_kill_test"
COLLECTION = "LIDC-IDRI"
RUN_TIMEOUT = 120  # seconds: one ingest of the archive, or the wait for one kill


def log(message):
    note(NAME, message)


def make_archive(binary, root, patients):
    manifest = summary_of(meta_db_ok(binary, "synth", "--patients", str(patients), "--small", "--out", root))
    require(sum(manifest.get("broken_files", {}).values()) > 0, f"the synth archive has no broken files: {manifest}")
    return manifest


def file_records(path):
    """Number of file records committed, or -1 while the database cannot be read yet."""
    try:
        con = connect_ro(path)
        try:
            return con.execute("SELECT count(*) FROM ingest_files").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return -1


def plan(rng, kills, chains):
    """[[(kind, extra), ...] per chain]. Each chain: one or two early kills anywhere, mid-batch kills whose targets
    walk through the archive (each a seeded share of what is left, so the last lands well before the end), and a
    reconcile kill last. For mid, extra is (share of the files still to do, share of a batch's time); else the
    delay in seconds."""
    per_chain = [kills // chains + (1 if i < kills % chains else 0) for i in range(chains)]
    out = []
    for n in per_chain:
        early = rng.randint(1, 2) if n >= 4 else min(1, n - 1)
        mids = n - 1 - early
        chain = []
        for j in range(mids):
            share = min(0.9, rng.uniform(0.5, 1.5) / (mids - j + 1))
            chain.append(("mid", (share, rng.random())))
        for _ in range(early):
            chain.insert(rng.randint(0, len(chain)), ("early", rng.uniform(0.0, 0.8)))
        chain.append(("reconcile", rng.uniform(0.0, 0.15)))
        out.append(chain)
    return out


class Crasher:
    def __init__(self, binary, archive, tmp, batch):
        self.binary, self.archive, self.tmp, self.batch = binary, archive, tmp, batch
        self.reference = None
        self.total_files = None
        self.batch_seconds = None
        self.killed = 0  # kills that hit a running ingest, over all chains

    def args(self, db):
        return ["ingest", self.archive, "--db", f"sqlite:{db}", "--collection", COLLECTION, "--batch",
                str(self.batch), "--quiet"]

    def clean(self):
        db = os.path.join(self.tmp, "clean.sqlite")
        started = time.monotonic()
        summary = summary_of(meta_db_ok(self.binary, *self.args(db), timeout=RUN_TIMEOUT))
        seconds = time.monotonic() - started
        require(summary.get("failed", 0) > 0, f"the broken files were not registered: {summary}")
        self.reference = snapshot(db)
        self.total_files = len(self.reference["ingest_files"])
        self.batch_seconds = seconds * self.batch / max(1, self.total_files)
        integrity(db)
        check_clean(self.binary, f"sqlite:{db}")
        log(f"clean ingest: {seconds:.1f}s, {counts(db)}; ~{self.batch_seconds:.2f}s per batch of {self.batch}")
        return seconds

    def one_kill(self, db, kind, extra):
        """Starts an ingest and kills it at the moment `kind`/`extra` names; returns a line saying what happened."""
        before = max(0, file_records(db))
        if kind == "mid":
            share, batch_share = extra
            target = min(self.total_files, before + max(1, int(share * (self.total_files - before))))
            delay = batch_share * self.batch_seconds
        elif kind == "reconcile":
            target, delay = self.total_files, extra
        else:
            target, delay = before, extra
        proc = subprocess.Popen([self.binary, *self.args(db)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        started = time.monotonic()
        try:
            reached = None
            while proc.poll() is None and time.monotonic() - started < RUN_TIMEOUT:
                if file_records(db) >= target:
                    reached = time.monotonic() - started
                    break
                time.sleep(0.01)
            if reached is not None:
                time.sleep(delay)
            at = time.monotonic() - started
            killed = kill9(proc)
            stdout, stderr = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(30)
        require(at < RUN_TIMEOUT, f"{kind}: target {target} file records not reached within {RUN_TIMEOUT}s")
        after = file_records(db)
        if killed:
            self.killed += 1
            return (f"{kind}: killed at {at:.2f}s (target {target} records reached at "
                    f"{reached if reached is None else round(reached, 2)}s, +{delay:.2f}s): records {before} -> "
                    f"{after}"), True
        require(proc.returncode == 0, f"{kind}: the ingest ended by itself with exit {proc.returncode} before the "
                                      f"kill: {short(stderr)}")
        summary_of(subprocess.CompletedProcess(proc.args, 0, stdout, stderr))
        return f"{kind}: the re-run completed (exit 0, {at:.2f}s) before the kill: records {before} -> {after}", False

    def chain(self, index, kills):
        db = os.path.join(self.tmp, f"chain{index}.sqlite")
        problems = Problems()
        killed = 0
        for i, (kind, extra) in enumerate(kills):
            line, was_killed = self.one_kill(db, kind, extra)
            killed += was_killed
            log(f"chain {index} kill {i + 1}/{len(kills)} {line}")
            if not os.path.exists(db):
                continue  # killed before the store was created: nothing to check yet
            try:
                inspect_copy(self.binary, db, os.path.join(self.tmp, "inspect.sqlite"))
            except AssertionError as error:
                problems.add(f"after kill {i + 1} ({line}): {error}")
        started = time.monotonic()
        summary = summary_of(meta_db_ok(self.binary, *self.args(db), timeout=RUN_TIMEOUT))
        log(f"chain {index}: final re-run {time.monotonic() - started:.1f}s, parsed {summary.get('dicom_parsed')}, "
            f"{counts(db)}")
        problems.expect(summary.get("disappeared", 0) == 0, f"the final re-run reports disappeared files: {summary}")
        try:
            integrity(db)
            check_clean(self.binary, f"sqlite:{db}")
        except AssertionError as error:
            problems.add(f"after the final re-run: {error}")
        differences(snapshot(db), self.reference, f"chain {index} ({killed} of {len(kills)} killed)", problems)
        problems.raise_if_any(f"failures of chain {index}")
        return killed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.environ.get("META_DB_BIN"))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("META_DB_CRASH_SEED", "20240612")))
    parser.add_argument("--patients", type=int, default=6)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--chains", type=int, default=3)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (and print it)")
    args = parser.parse_args()
    require(args.binary and os.access(args.binary, os.X_OK), "no meta_db binary (--binary or META_DB_BIN)")
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    log(f"seed {args.seed} (rerun with --seed {args.seed} or META_DB_CRASH_SEED={args.seed})")
    rng = random.Random(args.seed)
    chains = plan(rng, args.kills, args.chains)
    for i, chain in enumerate(chains):
        log(f"plan, chain {i}: " + ", ".join(f"{k} {e[0]:.2f}/{e[1]:.2f}" if k == "mid" else f"{k} +{e:.2f}s"
                                             for k, e in chain))
    results = Results()
    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="meta_db-ingest-kill-")
    crasher = None
    try:
        archive = os.path.join(tmp, "archive")
        manifest = make_archive(os.path.abspath(args.binary), archive, args.patients)
        log(f"archive: {manifest.get('files_total')} files, {manifest.get('instances')} instances, "
            f"broken {manifest.get('broken_files')}")
        crasher = Crasher(os.path.abspath(args.binary), archive, tmp, args.batch)
        if results.check("clean ingest (the reference): check 0, integrity ok", crasher.clean):
            for i, chain in enumerate(chains):
                results.check(
                    f"chain {i}: {len(chain)} kills -9 (each followed by a re-run the next kill hits), integrity and "
                    f"check after each; a completing re-run equals the clean catalogue", crasher.chain, i, chain)
        killed = crasher.killed
        results.check(f"at least {args.kills * 3 // 4} of the {args.kills} planned kills hit a running ingest "
                      f"({killed})", lambda: require(killed >= args.kills * 3 // 4,
                                                     f"only {killed} kills hit a running ingest"))
    except Exception as error:  # noqa: BLE001 - set-up failed: one failure, with the reason
        results.failed += 1
        print(f"FAIL set-up: {error}")
        traceback.print_exc()
    finally:
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    log(f"seed {args.seed}, {time.monotonic() - started:.1f}s")
    print(f"{results.passed} passed, {results.failed} failed")
    return 0 if results.failed == 0 and results.passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
