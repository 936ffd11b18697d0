#!/usr/bin/env python3
"""Disk full under a SQLite catalogue: the database on a size-limited tmpfs (mounted by this test, so it needs root;
as another user it prints why it skips), an ingest of an archive too big for it.

Checked:
- the ingest fails within a bound (no hang) with a non-zero exit (3, "database unavailable": docs/cli.md), exactly
  one line on stderr that says the disk is full and names the database file, no sanitizer report, nothing on stdout;
- the file is consistent as the failure left it: PRAGMA integrity_check and FTS5's integrity-check ok, `meta_db
  check` exits 0 (every batch that committed is whole, with its file records; the failed one left nothing), and
  `meta_db stats` answers;
- a second ingest while the disk is still full fails the same way and leaves the file consistent again;
- `meta_db serve` on the full disk: a write over HTTP answers 503 with the disk-full reason (not a 500), reads go on
  answering, and the server keeps running;
- a file system too small even for the empty schema: the ingest fails the same way (one line, exit 3);
- then the file system is grown (`mount -o remount,size=256m`): the next ingest exits 0 and the catalogue equals a
  clean ingest's into a file on an ordinary disk (documents but timestamps, collection by name, ledger), check 0.
Three rounds, each on a fresh tmpfs whose size is the clean database's (with its log) times a seeded fraction in
0.3-0.55, 0.55-0.8 and 0.8-0.98 (the archive is 6 synth patients, ~2 MiB of catalogue): the disk fills early,
mid-way and near the end (where the final batches, the directory digests and the log's checkpoints into the file
compete for the last pages: in WAL mode a checkpoint needs room for the file to grow while the log still holds the
frames, so a full disk also stops the background checkpointer and the log keeps what it could not copy). The
second ingest and serve are tried in the first round. Seed: --seed or META_DB_CRASH_SEED.
Usage: disk_full_test.py --binary build/meta_db. Prints one line per check and finally "N passed, N failed".
"""
import argparse
import errno
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import urllib.error
import urllib.request

from crash_checks import (Problems, Results, check_clean, counts, differences, integrity, meta_db, meta_db_ok, note,
                          require, short, snapshot, summary_of)

NAME = "disk_full_test"
COLLECTION = "LIDC-IDRI"
FAIL_WITHIN = 120  # seconds: an ingest on a full disk must have failed by then
WAIT = 30


def log(message):
    note(NAME, message)


def mount(directory, size):
    os.makedirs(directory, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", directory], capture_output=True,
                          text=True, timeout=30)
    require(proc.returncode == 0, f"mount -t tmpfs -o size={size} tmpfs {directory}: {short(proc.stderr)}")


def remount(directory, size):
    proc = subprocess.run(["mount", "-o", f"remount,size={size}", directory], capture_output=True, text=True,
                          timeout=30)
    require(proc.returncode == 0, f"mount -o remount,size={size} {directory}: {short(proc.stderr)}")


def unmount(directory):
    if os.path.ismount(directory):
        subprocess.run(["umount", directory], capture_output=True, timeout=30)
    if os.path.ismount(directory):
        subprocess.run(["umount", "-l", directory], capture_output=True, timeout=30)


def fill_disk(path):
    """Writes `path` until the file system under it has no byte left (ENOSPC)."""
    with open(path, "wb", buffering=0) as filler:
        for size in (1 << 20, 4096, 1):
            try:
                while True:
                    filler.write(b"\0" * size)
            except OSError as error:
                require(error.errno in (errno.ENOSPC, errno.EDQUOT), f"filling {path}: {error}")


def free_bytes(directory):
    st = os.statvfs(directory)
    return st.f_bavail * st.f_frsize


def expect_disk_full_failure(proc, seconds, db_path, what):
    """A failed command on a full disk: exit 3, one line naming the disk and the file, no sanitizer report."""
    problems = Problems()
    problems.expect(proc.returncode == 3, f"{what}: exit {proc.returncode}, expected 3: {short(proc.stderr)}")
    for marker in ("AddressSanitizer", "runtime error:", "LeakSanitizer", "terminate called"):
        problems.expect(marker not in proc.stderr, f"{what}: {marker} in stderr: {short(proc.stderr)}")
    problems.expect(not proc.stdout.strip(), f"{what}: stdout not empty on failure: {short(proc.stdout, 300)}")
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    problems.expect(len(lines) == 1, f"{what}: stderr is {len(lines)} lines, not one: {lines[:6]}")
    line = lines[-1] if lines else ""
    problems.expect(line.startswith("meta_db: "), f"{what}: not meta_db's reason: {line!r}")
    problems.expect(re.search(r"disk (is )?full|no space", line, re.I), f"{what}: the reason does not say the disk "
                                                                         f"is full: {line!r}")
    problems.expect(db_path in line, f"{what}: the reason does not name {db_path}: {line!r}")
    problems.raise_if_any(f"wrong answers to a full disk ({what}, {seconds:.1f}s)")
    return line


class DiskFull:
    def __init__(self, binary, tmp, seed):
        self.binary, self.tmp, self.rng = binary, tmp, random.Random(seed)
        self.archive = os.path.join(tmp, "archive")
        self.mnt = self.db = None
        self.reference = None
        self.clean_bytes = None
        self.size = None

    def ingest_args(self, db):
        return ["ingest", self.archive, "--db", f"sqlite:{db}", "--collection", COLLECTION, "--batch", "100",
                "--quiet"]

    def setup(self):
        manifest = summary_of(meta_db_ok(self.binary, "synth", "--patients", "6", "--small", "--out", self.archive))
        clean = os.path.join(self.tmp, "clean.sqlite")
        started = time.monotonic()
        meta_db_ok(self.binary, *self.ingest_args(clean), timeout=FAIL_WITHIN)
        seconds = time.monotonic() - started
        self.reference = snapshot(clean)
        self.clean_bytes = sum(os.path.getsize(clean + suffix) for suffix in ("", "-wal", "-shm")
                               if os.path.exists(clean + suffix))
        log(f"archive of {manifest['files_total']} files; clean ingest {seconds:.1f}s, "
            f"{self.clean_bytes / 2 ** 20:.2f} MiB with its log and index")

    def mount_round(self, index, low, high):
        """A fresh tmpfs of a seeded share in [low, high) of the clean database's size: below it, so the ingest
        cannot complete."""
        self.mnt = os.path.join(self.tmp, f"mnt{index}")
        self.db = os.path.join(self.mnt, "catalogue.sqlite")
        self.size = int(self.clean_bytes * self.rng.uniform(low, high)) // 4096 * 4096
        mount(self.mnt, str(self.size))
        log(f"round {index}: a tmpfs of {self.size / 2 ** 20:.2f} MiB ({self.size / self.clean_bytes:.0%} of the clean "
            f"database)")

    def fills(self):
        proc, seconds = meta_db(self.binary, *self.ingest_args(self.db), timeout=FAIL_WITHIN)
        line = expect_disk_full_failure(proc, seconds, self.db, "ingest onto a disk that fills")
        log(f"ingest failed after {seconds:.1f}s: {line}; {free_bytes(self.mnt)} bytes free; {counts(self.db)}; "
            f"files: {sorted((n, os.path.getsize(os.path.join(self.mnt, n))) for n in os.listdir(self.mnt))}")

    def consistent(self):
        integrity(self.db)
        check_clean(self.binary, f"sqlite:{self.db}")
        stats = json.loads(meta_db_ok(self.binary, "stats", "--db", f"sqlite:{self.db}").stdout)
        require(stats.get("instances", 0) >= 0, f"stats: {stats}")
        log(f"consistent while full: {counts(self.db)}")

    def fills_again(self):
        proc, seconds = meta_db(self.binary, *self.ingest_args(self.db), timeout=FAIL_WITHIN)
        expect_disk_full_failure(proc, seconds, self.db, "a second ingest while the disk is still full")
        integrity(self.db)
        check_clean(self.binary, f"sqlite:{self.db}")

    def serve_on_full_disk(self):
        proc = subprocess.Popen([self.binary, "serve", "--db", f"sqlite:{self.db}", "--port", "0", "--threads", "2"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        output, port = [], []
        ready = threading.Event()

        def read():
            for text in proc.stdout:
                output.append(text)
                found = re.search(r"serving \w+ on http://127\.0\.0\.1:(\d+)", text)
                if found and not port:
                    port.append(int(found.group(1)))
                    ready.set()
            ready.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            ready.wait(WAIT)
            require(port, f"serve did not start on the full disk: {short(''.join(output))}")

            def call(method, path, body=None):
                data = None if body is None else json.dumps(body).encode()
                req = urllib.request.Request(f"http://127.0.0.1:{port[0]}{path}", data=data, method=method,
                                             headers={"Content-Type": "application/json"} if data else {})
                try:
                    with urllib.request.urlopen(req, timeout=WAIT) as answer:
                        return answer.status, json.loads(answer.read() or b"null")
                except urllib.error.HTTPError as error:
                    return error.code, json.loads(error.read() or b"null")

            # What the failed ingest left free (its last batch did not fit; a smaller write may) is taken by a filler
            # file, so that the write below cannot fit whatever its size.
            fill_disk(os.path.join(self.mnt, "filler"))
            big = {"name": "cohort-too-big", "description": "x" * 500_000}
            status, answer = call("POST", "/collections", big)
            require(status == 503, f"POST /collections on a full disk: {status} {short(json.dumps(answer), 400)} "
                                   f"(expected 503)")
            message = answer.get("error", {}).get("message", "")
            require(re.search(r"disk (is )?full|no space", message, re.I), f"the 503 does not say the disk is full: "
                                                                           f"{message!r}")
            status, page = call("GET", "/series?limit=5")
            require(status == 200, f"GET /series after the failed write: {status} {short(json.dumps(page), 300)}")
            status, found = call("GET", "/collections?name=cohort-too-big")
            require(status == 200 and found["total"] == 0, f"the refused collection is there: {found}")
            status, health = call("GET", "/health")
            require(proc.poll() is None, f"serve exited ({proc.returncode})")
            log(f"serve on the full disk: POST 503 {message!r}; GET /series 200; /health {status}")
        finally:
            if os.path.exists(os.path.join(self.mnt, "filler")):
                os.remove(os.path.join(self.mnt, "filler"))
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(5)
            reader.join(5)
        integrity(self.db)

    def tiny(self):
        directory = os.path.join(self.tmp, "tiny")
        mount(directory, "64k")
        try:
            db = os.path.join(directory, "catalogue.sqlite")
            proc, seconds = meta_db(self.binary, *self.ingest_args(db), timeout=FAIL_WITHIN)
            expect_disk_full_failure(proc, seconds, db, "ingest onto a disk too small for the schema")
            if os.path.exists(db) and os.path.getsize(db) > 0:
                integrity(db)
        finally:
            unmount(directory)

    def recovers(self):
        remount(self.mnt, "256m")
        started = time.monotonic()
        summary = summary_of(meta_db_ok(self.binary, *self.ingest_args(self.db), timeout=FAIL_WITHIN))
        log(f"after the remount: ingest exit 0 in {time.monotonic() - started:.1f}s, parsed "
            f"{summary['dicom_parsed']}, warnings {summary.get('warnings')}; {counts(self.db)}")
        integrity(self.db)
        check_clean(self.binary, f"sqlite:{self.db}")
        problems = Problems()
        differences(snapshot(self.db), self.reference, "after the disk was grown", problems)
        problems.raise_if_any("differences from a clean ingest")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.environ.get("META_DB_BIN"))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("META_DB_CRASH_SEED", "20240612")))
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    require(args.binary and os.access(args.binary, os.X_OK), "no meta_db binary (--binary or META_DB_BIN)")
    if os.geteuid() != 0:
        print(f"{NAME}: skipped: mounting a size-limited tmpfs needs root (running as uid {os.geteuid()})")
        return 0
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    log(f"seed {args.seed} (rerun with --seed {args.seed} or META_DB_CRASH_SEED={args.seed})")
    results = Results()
    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="meta_db-disk-full-")
    test = DiskFull(os.path.abspath(args.binary), tmp, args.seed)
    try:
        if results.check("set-up: archive, clean ingest on an ordinary disk", test.setup):
            for index, (low, high) in enumerate(((0.3, 0.55), (0.55, 0.8), (0.8, 0.98))):
                try:
                    if not results.check(f"round {index}: a size-limited tmpfs", test.mount_round, index, low, high):
                        continue
                    if results.check(f"round {index}: ingest onto a disk that fills: exit 3 within 120 s, one line "
                                     "saying the disk is full and naming the file, no sanitizer report", test.fills):
                        results.check(f"round {index}: the file as the failure left it: integrity_check ok, check 0, "
                                      "stats answers", test.consistent)
                        if index == 0:
                            results.check("a second ingest while still full fails the same way, the file stays "
                                          "consistent", test.fills_again)
                            results.check("serve on the full disk: a write is 503 naming the full disk, reads go on",
                                          test.serve_on_full_disk)
                    results.check(f"round {index}: the disk grown (remount,size=256m): the next ingest completes to "
                                  "the clean catalogue, check 0", test.recovers)
                finally:
                    if test.mnt:
                        unmount(test.mnt)
        results.check("a disk too small for the schema: exit 3, one line", test.tiny)
    except Exception as error:  # noqa: BLE001 - one failure, with the reason
        results.failed += 1
        print(f"FAIL set-up: {error}")
        traceback.print_exc()
    finally:
        if test.mnt:
            unmount(test.mnt)
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    log(f"seed {args.seed}, {time.monotonic() - started:.1f}s")
    print(f"{results.passed} passed, {results.failed} failed")
    return 0 if results.failed == 0 and results.passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
