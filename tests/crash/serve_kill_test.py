#!/usr/bin/env python3
"""`meta_db serve` killed -9 while client threads write over HTTP: after a restart every acknowledged (2xx) write is
there and nothing is half-applied. One script for both stores: META_DB_TEST_BACKEND=sqlite (a file in a temp dir) or
mongodb (a fresh database on META_DB_TEST_MONGO_URI's server, dropped at the end; without the variable it prints
the skip line ctest's SKIP_REGULAR_EXPRESSION knows).

Each round starts `serve` on the store (on a free port), runs WRITERS threads that create researchers, collections
(with cases), jobs (for their own researchers and collections, naming patients of a small ingested archive so that
`matched` is resolved against stored studies, in the background) and append cases, each thread with its own seeded generator; after a
seeded 1.0-2.5 s the server is killed -9. Every answer is recorded: 2xx = acknowledged, no answer = in flight
(unknown: may or may not have happened), 4xx/5xx = refused (must not have happened). Then, before any restart:
on SQLite, `meta_db check` exits 0 (every invariant: researchers.jobs[] equals the jobs naming the researcher, ...)
and PRAGMA integrity_check is ok (both on a copy of the file, log and index, so that the restarted server recovers
the crashed files itself); on MongoDB, without transactions, `check` exits 0 once the restarted server has restored
researchers' jobs[] (it does so before answering). Then a restarted server must answer every acknowledged document with the
acknowledged content (researcher fields, collection cases, a job's fields and its `matched`), each acknowledged
job listed in its researcher's jobs[], every job a researcher lists existing, every case of a collection
acknowledged or in flight, nothing that was refused or never sent. Rounds accumulate on one store.
Seed: --seed or META_DB_CRASH_SEED (printed). Usage: serve_kill_test.py --binary build/meta_db [--seed N]
Prints one line per check and finally "N passed, N failed".
"""
import argparse
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
import urllib.parse
import urllib.request

from crash_checks import Problems, Results, check_clean, inspect_copy, meta_db_ok, note, require, short, summary_of
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from serve_process import ServeProcess  # noqa: E402

NAME = "serve_kill_test"
WAIT = 30         # seconds: the server up, one request answered
ROUNDS = 3
WRITERS = 4
PATIENTS = 2      # the archive ingested first, whose patients the jobs name


def log(message):
    note(NAME, message)


class Serve(ServeProcess):
    """`meta_db serve --port 0` on a store, its output appended to `log_path`."""

    def __init__(self, binary, db_uri, log_path):
        super().__init__(binary, db_uri, wait=WAIT, log_path=log_path)


def request(port, method, path, body=None, timeout=WAIT):
    """(status, parsed JSON); an OSError (connection refused or reset, the server killed) propagates."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"} if body is not None else {}
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as answer:
            status, raw = answer.status, answer.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw.decode(errors="replace")


class Ledger:
    """What the clients were told, shared by the writer threads: acknowledged, refused and in-flight writes."""

    def __init__(self):
        self.lock = threading.Lock()
        self.researchers = {}   # _id -> the body acknowledged
        self.collections = {}   # _id -> {"name", "cases": {case_id: case}} acknowledged
        self.jobs = {}          # _id -> the document the server answered
        self.in_flight = []     # (what, body) sent without an answer
        self.refused = []       # (what, body, status, answer)
        self.acked = 0

    def snapshot_for(self, rng):
        with self.lock:
            return (rng.choice(list(self.researchers.items())) if self.researchers else None,
                    rng.choice(list(self.collections.items())) if self.collections else None)


class Writer(threading.Thread):
    def __init__(self, port, ledger, seed, tag, patients, stop):
        super().__init__(daemon=True)
        self.port, self.ledger, self.rng, self.tag, self.patients, self.stop = port, ledger, random.Random(seed), tag, \
            patients, stop
        self.mine_researchers, self.mine_collections = [], []  # _ids this thread created (acknowledged)
        self.serial = 0
        self.failure = None

    def name_of(self, what):
        self.serial += 1
        return f"{what}-{self.tag}-{self.serial}"

    def case(self):
        return {"case_id": self.name_of("case"), "patient_id": self.rng.choice(self.patients),
                "accession_numbers": [self.name_of("acc")]}

    def send(self, what, method, path, body):
        try:
            status, answer = request(self.port, method, path, body)
        except OSError:
            with self.ledger.lock:
                self.ledger.in_flight.append((what, path, body))
            raise
        if not 200 <= status < 300:
            with self.ledger.lock:
                self.ledger.refused.append((what, path, body, status, answer))
            return None
        return answer

    def step(self):
        op = self.rng.choice(["researcher", "collection", "case", "job", "job"])
        if op == "researcher" or not self.mine_researchers:
            rid = self.name_of("r")
            body = {"researcher_id": rid, "name": f"Dr {rid}", "email": f"{rid}@example.org"}
            answer = self.send("researcher", "POST", "/researchers", body)
            if answer:
                with self.ledger.lock:
                    self.ledger.researchers[answer["_id"]] = body
                    self.ledger.acked += 1
                self.mine_researchers.append((answer["_id"], rid))
        elif op == "collection" or not self.mine_collections:
            name = self.name_of("c")
            cases = [self.case() for _ in range(self.rng.randint(0, 2))]
            body = {"name": name, "description": f"cohort {name}", "cases": cases}
            answer = self.send("collection", "POST", "/collections", body)
            if answer:
                with self.ledger.lock:
                    self.ledger.collections[answer["_id"]] = {"name": name, "cases": {c["case_id"]: c for c in cases}}
                    self.ledger.acked += 1
                self.mine_collections.append(answer["_id"])
        elif op == "case":
            cid = self.rng.choice(self.mine_collections)
            case = self.case()
            answer = self.send("case", "POST", f"/collections/{cid}/cases", case)
            if answer:
                with self.ledger.lock:
                    self.ledger.collections[cid]["cases"][case["case_id"]] = case
                    self.ledger.acked += 1
        else:
            _, rid = self.rng.choice(self.mine_researchers)
            body = {"researcher_id": rid, "name": self.name_of("job"),
                    "patient_ids": self.rng.sample(self.patients, self.rng.randint(1, len(self.patients))),
                    "accession_numbers": [self.name_of("unknown-acc")]}
            if self.rng.random() < 0.7:
                body["collection_id"] = self.rng.choice(self.mine_collections)
            answer = self.send("job", "POST", "/jobs", body)
            if answer:
                with self.ledger.lock:
                    self.ledger.jobs[answer["_id"]] = answer
                    self.ledger.acked += 1

    def run(self):
        try:
            while not self.stop.is_set():
                self.step()
        except OSError:
            pass  # the server is gone: this thread's last write is in flight
        except Exception as error:  # noqa: BLE001 - reported by the round
            self.failure = f"{type(error).__name__}: {error}\n{traceback.format_exc()}"


def get_all(port, path):
    out, skip = [], 0
    while True:
        status, page = request(port, "GET", f"{path}?limit=1000&skip={skip}")
        require(status == 200, f"GET {path}: {status} {short(str(page))}")
        out += page["results"]
        if len(page["results"]) < 1000:
            return out
        skip += 1000


def wait_jobs_resolved(port, problems):
    """Jobs resolve in the background: the restarted server resumes those a kill left queued or running."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        pending = [d for d in get_all(port, "/jobs") if d.get("status") in ("queued", "running")]
        if not pending:
            return
        time.sleep(0.2)
    problems.add(f"{len(pending)} jobs still queued or running {WAIT}s after the restart")


def verify(port, ledger, expected_matched, problems, patients=()):
    """The restarted server's documents against what the clients were told."""
    wait_jobs_resolved(port, problems)
    researchers = {d["_id"]: d for d in get_all(port, "/researchers")}
    collections = {d["_id"]: d for d in get_all(port, "/collections")}
    jobs = {d["_id"]: d for d in get_all(port, "/jobs")}
    in_flight = {(what, json.dumps(body, sort_keys=True)) for what, _, body in ledger.in_flight}
    flying_cases = {body["case_id"] for what, _, body in ledger.in_flight if what == "case"}
    flying_cases |= {c["case_id"] for what, _, body in ledger.in_flight if what == "collection"
                     for c in body["cases"]}

    for _id, body in ledger.researchers.items():
        doc = researchers.get(_id)
        if doc is None:
            problems.add(f"acknowledged researcher {body['researcher_id']} ({_id}) is missing")
            continue
        for key, value in body.items():
            problems.expect(doc.get(key) == value, f"researcher {_id}.{key}: {doc.get(key)!r} != acknowledged "
                                                   f"{value!r}")
    for _id, doc in researchers.items():
        if _id not in ledger.researchers:
            body = {k: doc.get(k) for k in ("researcher_id", "name", "email")}
            problems.expect(("researcher", json.dumps(body, sort_keys=True)) in in_flight,
                            f"researcher {doc.get('researcher_id')} ({_id}) was never acknowledged nor in flight")
    by_business_id = {d.get("researcher_id"): d for d in researchers.values()}

    for _id, want in ledger.collections.items():
        doc = collections.get(_id)
        if doc is None:
            problems.add(f"acknowledged collection {want['name']} ({_id}) is missing")
            continue
        have = {c.get("case_id"): c for c in doc.get("cases", [])}
        problems.expect(len(have) == len(doc.get("cases", [])), f"collection {want['name']}: a case twice")
        for case_id, case in want["cases"].items():
            problems.expect(have.get(case_id) == case, f"collection {want['name']}: acknowledged case {case_id} "
                                                       f"{'missing' if case_id not in have else 'differs'}")
        for case_id in set(have) - set(want["cases"]) - set(patients):  # a job makes a case per patient it links
            problems.expect(case_id in flying_cases, f"collection {want['name']}: case {case_id} was never "
                                                     f"acknowledged nor in flight")
    for _id, doc in collections.items():
        if _id not in ledger.collections and any(doc.get("name", "").endswith(f"(job {j})") for j in jobs):
            continue  # made by a job that named no collection
        if _id not in ledger.collections:
            problems.expect(any(what == "collection" and body["name"] == doc.get("name")
                                for what, _, body in ledger.in_flight),
                            f"collection {doc.get('name')} ({_id}) was never acknowledged nor in flight")

    for _id, acked in ledger.jobs.items():
        doc = jobs.get(_id)
        if doc is None:
            problems.add(f"acknowledged job {acked['name']} ({_id}) is missing")
            continue
        # matched, unmatched and (when none was named) collection_id are the background resolution's.
        keys = ["researcher_id", "name", "patient_ids", "accession_numbers"]
        if "collection_id" in acked:
            keys.append("collection_id")
        problems.expect(doc.get("status") == "done", f"job {_id}: status {doc.get('status')} ({doc.get('error')})")
        for key in keys:
            problems.expect(doc.get(key) == acked.get(key), f"job {_id}.{key}: {doc.get(key)!r} != acknowledged "
                                                            f"{acked.get(key)!r}")
        want_matched = expected_matched(acked["patient_ids"])
        problems.expect(doc.get("matched") == want_matched, f"job {_id}: matched {doc.get('matched')} != "
                                                            f"{want_matched} studies of {acked['patient_ids']}")
    for _id, doc in jobs.items():
        if _id not in ledger.jobs:
            problems.expect(any(what == "job" and body["name"] == doc.get("name") for what, _, body in ledger.in_flight),
                            f"job {doc.get('name')} ({_id}) was never acknowledged nor in flight")
        owner = by_business_id.get(doc.get("researcher_id"))
        problems.expect(owner is not None and _id in owner.get("jobs", []),
                        f"job {doc.get('name')} ({_id}) is not in its researcher {doc.get('researcher_id')}'s jobs[] "
                        f"(half-applied)")
    for doc in researchers.values():
        for job_id in doc.get("jobs", []):
            problems.expect(job_id in jobs and jobs[job_id].get("researcher_id") == doc.get("researcher_id"),
                            f"researcher {doc.get('researcher_id')} lists job {job_id}, which does not exist or is "
                            f"not theirs (half-applied)")
    applied = sum(1 for what, _, body in ledger.in_flight
                  if (what == "researcher" and body["researcher_id"] in by_business_id)
                  or (what == "collection" and any(d.get("name") == body["name"] for d in collections.values()))
                  or (what == "job" and any(d.get("name") == body["name"] for d in jobs.values()))
                  or (what == "case" and any(c.get("case_id") == body["case_id"] for d in collections.values()
                                             for c in d.get("cases", []))))
    return len(researchers), len(collections), len(jobs), applied


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.environ.get("META_DB_BIN"))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("META_DB_CRASH_SEED", "20240612")))
    parser.add_argument("--backend", default=os.environ.get("META_DB_TEST_BACKEND", "sqlite"),
                        choices=("sqlite", "mongodb"))
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    require(args.binary and os.access(args.binary, os.X_OK), "no meta_db binary (--binary or META_DB_BIN)")
    binary = os.path.abspath(args.binary)
    mongo_server = os.environ.get("META_DB_TEST_MONGO_URI", "")
    if args.backend == "mongodb" and not mongo_server:
        print(f"{NAME}: skipped: needs a MongoDB server: set META_DB_TEST_MONGO_URI")
        return 0
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    log(f"seed {args.seed} (rerun with --seed {args.seed} or META_DB_CRASH_SEED={args.seed}), backend {args.backend}")
    rng = random.Random(args.seed)
    results = Results()
    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="meta_db-serve-kill-")
    database = f"crash_serve_{os.getpid()}_{args.seed}"
    if args.backend == "sqlite":
        db_path = os.path.join(tmp, "serve.sqlite")
        db_uri = f"sqlite:{db_path}"
    else:
        parts = urllib.parse.urlsplit(mongo_server)
        db_uri = urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, ""))
    ledger = Ledger()
    server = None
    try:
        archive = os.path.join(tmp, "archive")
        meta_db_ok(binary, "synth", "--patients", str(PATIENTS), "--small", "--out", archive)
        summary = summary_of(meta_db_ok(binary, "ingest", archive, "--db", db_uri, "--quiet"))
        log(f"ingested {summary['studies']['inserted']} studies of {PATIENTS} patients into {db_uri}")
        server = Serve(binary, db_uri, os.path.join(tmp, "serve.log"))
        studies = get_all(server.port, "/studies")
        patients = sorted({s["patient_id"] for s in studies})
        studies_of = {p: sum(1 for s in studies if s["patient_id"] == p) for p in patients}
        server.stop()
        server = None
        require(len(patients) == PATIENTS, f"{len(patients)} patients stored, expected {PATIENTS}")

        def expected_matched(patient_ids):
            return sum(studies_of.get(p, 0) for p in set(patient_ids))

        for round_index in range(args.rounds):
            def one_round(round_index=round_index):
                nonlocal server
                server = Serve(binary, db_uri, os.path.join(tmp, "serve.log"))
                stop = threading.Event()
                writers = [Writer(server.port, ledger, rng.randrange(2 ** 32), f"{round_index}.{t}", patients, stop)
                           for t in range(WRITERS)]
                acked_before = ledger.acked
                for w in writers:
                    w.start()
                delay = rng.uniform(1.0, 2.5)
                time.sleep(delay)
                server.kill9()
                server = None
                stop.set()
                for w in writers:
                    w.join(WAIT + 5)
                    require(not w.is_alive(), f"writer {w.tag} still running {WAIT + 5}s after the kill")
                    require(w.failure is None, f"writer {w.tag}: {w.failure}")
                log(f"round {round_index}: killed -9 after {delay:.2f}s with {ledger.acked - acked_before} writes "
                    f"acknowledged this round ({ledger.acked} in all, {len(ledger.in_flight)} in flight, "
                    f"{len(ledger.refused)} refused)")
                require(ledger.acked > acked_before, "no write was acknowledged before the kill")
                problems = Problems()
                for what, path, body, status, answer in ledger.refused:
                    problems.add(f"{what} {path} refused with {status}: {short(json.dumps(answer), 300)}")
                try:
                    if args.backend == "sqlite":
                        inspect_copy(binary, db_path, os.path.join(tmp, "inspect.sqlite"))
                except AssertionError as error:
                    problems.add(f"the store as the kill left it: {error}")
                server = Serve(binary, db_uri, os.path.join(tmp, "serve.log"))
                if args.backend != "sqlite":
                    # Without transactions a job and its researcher's jobs[] are two writes: the restarted server
                    # restores the list before it answers, so the catalogue it serves must check clean.
                    try:
                        check_clean(binary, db_uri)
                    except AssertionError as error:
                        problems.add(f"the store once the server restarted: {error}")
                found = verify(server.port, ledger, expected_matched, problems, patients)
                log(f"round {round_index}: after the restart {found[0]} researchers, {found[1]} collections, "
                    f"{found[2]} jobs; {found[3]} of {len(ledger.in_flight)} writes in flight at a kill were applied")
                server.stop()
                server = None
                problems.raise_if_any(f"failures after kill -9 of serve in round {round_index}")

            results.check(f"round {round_index}: serve killed -9 during {WRITERS} writers' requests: check 0"
                          f"{', integrity ok' if args.backend == 'sqlite' else ''}; after the restart every "
                          f"acknowledged write is there, nothing half-applied", one_round)
    except Exception as error:  # noqa: BLE001 - set-up failed: one failure, with the reason
        results.failed += 1
        print(f"FAIL set-up: {error}")
        traceback.print_exc()
    finally:
        if server is not None:
            server.stop()
        if args.backend == "mongodb":
            try:
                import pymongo
                with pymongo.MongoClient(mongo_server, serverSelectionTimeoutMS=5000) as client:
                    client.drop_database(database)
            except Exception as error:  # noqa: BLE001 - a leftover database is reported, not fatal
                log(f"could not drop {database}: {error}")
        if args.keep:
            log(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    log(f"seed {args.seed}, {time.monotonic() - started:.1f}s")
    print(f"{results.passed} passed, {results.failed} failed")
    return 0 if results.failed == 0 and results.passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
