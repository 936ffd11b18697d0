#!/usr/bin/env python3
"""Scale-out on one MongoDB store: sharded ingest processes and several API servers, black-box, against FerretDB.

The issue: "3 concurrent `ingest --shard i/3` processes into one FerretDB give exactly the catalogue of one ingest;
two `serve` processes on the same MongoDB store answer the same". Against a throwaway FerretDB this test starts
itself with scripts/ferretdb.sh (in a temp dir, stopped at the end even on failure):

- a synthetic archive (`meta_db synth --patients 6 --small`) is ingested once into the database `single`, and by three
  concurrent `meta_db ingest --shard i/3` processes into the database `sharded` (fresh: the shards also race to create
  its indexes) and into `sharded_warm` (its indexes made first by an ingest of an empty directory, so only the
  catalogue writes race); all must exit 0, and their summaries together account for every file exactly once. A shard
  of `sharded` that failed is re-run alone (reported) so that the checks below still say something;
- every collection of the two databases (studies, series, instances, collections, researchers, jobs, ingest_files,
  ingest_dirs, ingest_errors, meta_db_info) holds the same _ids and, field for field (field order too), the same
  documents once the timestamps are removed (created_at/updated_at, and first_seen/last_seen of ingest_errors: the
  time of the run that wrote them). The collection document itself gets a new ObjectId in each database (created by
  whichever shard came first): it is paired by name, and the collection_ids of studies and series are compared through
  that pairing; its cases are compared as a set of (case_id, patient_id, sorted accession_numbers), since the shards
  append them in their own order. One difference is by design and allowed: the archive root's own files
  (manifest.json) are split between the shards one by one, so no shard may record the root directory's digest
  (JudgesDirectory in src/driver/ingest.cpp) and `sharded` holds {digest: null, files: 0} for it;
- integers that fit in 32 bits are stored as int32 in both databases (docs/mongodb.md; the comparison above counts
  int32 and int64 of one value as equal, so that a type drift is reported once, there);
- `meta_db check` finds both sharded catalogues consistent; re-running one shard changes no document (timestamps
  included) and parses nothing; an unsharded ingest afterwards parses and writes nothing and records the root's
  digest, after which the ledger equals one ingest's exactly;
- two `meta_db serve` processes on `sharded_warm` (each on a free port chosen with --port 0) both answer /health 200,
  and the same GETs (/health, /stats, lists with filters and sorts, one study, its series, one series, its instances,
  one instance, lookups by UID, a collection and its studies, /fields, /errors) and the same POST /query answer
  byte-identical bodies on both. Nothing is excluded from the comparison: no field of these answers is per-process
  (the only per-process state is the /stats and /fields cache, compared before any write);
- a researcher created through one server is read through the other (by id and by list filter), the same researcher_id
  posted to the other is a 409, and a job created through the second server appears in the researcher's jobs[] read
  through the first.

Usage: scale_out_test.py [--binary build/meta_db] [--repo DIR]   (env META_DB_BIN also names the binary)
Prints one line per check and finally "N passed, N failed"; exits non-zero on any failure.
"""
import argparse
import datetime
import json
import os
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


try:
    import pymongo
    from bson import Int64, ObjectId
except ImportError as error:  # pragma: no cover - the environment is broken, not the product
    print(f"scale_out_test: needs Debian's python3-pymongo: {error}", file=sys.stderr)
    print("0 passed, 1 failed")
    sys.exit(1)

from catalogue_checks import (LEDGER_TIMESTAMPS, TIMESTAMPS, Problems, Results, case_set, check_int32, ordered_equal,
                              remap, require, same_type, short, small_int64_paths, strip, summary_of)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from serve_process import ServeProcess  # noqa: E402

WAIT = 30                # seconds: any single wait of this test
INGEST_TIMEOUT = 60      # seconds: one ingest of the small archive (a few seconds on FerretDB)
SHARDS = 3
COLLECTION = "LIDC-IDRI"
COMPARED = ("studies", "series", "instances", "collections", "researchers", "jobs", "ingest_files", "ingest_dirs",
            "ingest_errors", "meta_db_info")
# Written with the time of the run that wrote them: two ingests can only differ there.


# ------------------------------------------------------------------------------------------------------------------
# Processes


class FerretDB:
    """A throwaway FerretDB of this test, through scripts/ferretdb.sh (its own state dir, so it can be stopped)."""

    def __init__(self, repo, state):
        self.script = os.path.join(repo, "scripts", "ferretdb.sh")
        self.state = state
        self.uri = None

    def start(self):
        proc = subprocess.run([self.script, "start", self.state], capture_output=True, text=True, timeout=600,
                              stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            raise RuntimeError(f"scripts/ferretdb.sh start {self.state} failed: {short(proc.stderr)}")
        self.uri = proc.stdout.strip().splitlines()[-1]
        return self.uri

    def stop(self):
        subprocess.run([self.script, "stop", self.state], capture_output=True, timeout=60, stdin=subprocess.DEVNULL)


def meta_db(binary, *args, timeout=INGEST_TIMEOUT):
    """Runs meta_db; returns the CompletedProcess (a timeout is an AssertionError, the process killed)."""
    try:
        return subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as error:
        raise AssertionError(f"meta_db {' '.join(args)} did not finish within {timeout}s "
                             f"(stderr: {short(error.stderr.decode(errors='replace') if error.stderr else '')})")


def meta_db_ok(binary, *args, timeout=INGEST_TIMEOUT):
    proc = meta_db(binary, *args, timeout=timeout)
    require(proc.returncode == 0, f"meta_db {' '.join(args)} exited {proc.returncode}: {short(proc.stderr)}")
    return proc


class Serve(ServeProcess):
    """`meta_db serve` on a free port."""

    def __init__(self, binary, uri):
        super().__init__(binary, uri, wait=WAIT)

    def request(self, method, path, body=None):
        """(status, raw body bytes)."""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if body is not None else {}
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=WAIT) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def json(self, method, path, body=None):
        status, raw = self.request(method, path, body)
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode(errors="replace")

    def wait_healthy(self, timeout=WAIT):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = self.request("GET", "/health")
                if last[0] == 200:
                    return json.loads(last[1])
            except OSError as error:
                last = (None, str(error))
            time.sleep(0.2)
        raise AssertionError(f"serve on port {self.port}: /health not 200 within {timeout}s: {last}")


def with_database(uri, database):
    """The server URI with its path set to `database` (options and credentials kept)."""
    parts = urllib.parse.urlsplit(uri)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, ""))


# ------------------------------------------------------------------------------------------------------------------
# Catalogue comparison


def snapshot(db):
    """Every compared collection of a database: {collection: {_id: document}} (documents as pymongo gives them)."""
    return {kind: {doc["_id"]: doc for doc in db[kind].find()} for kind in COMPARED}


def describe_difference(path, got, want, problems):
    """Field-level differences between two documents (field order included)."""
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


def compare_catalogues(got, want, what, undigested_dirs=()):
    """`got` (a snapshot) equals the reference snapshot `want` but for timestamps and the collections' own ids.
    `undigested_dirs`: ingest_dirs entries that may lack their digest in `got` ({digest: None, files: 0})."""
    problems = Problems()
    # The collections: paired by name (their _id is a fresh ObjectId of whichever process created them).
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
        for field in ("created_at", "updated_at"):
            problems.expect(isinstance(g.get(field), datetime.datetime),
                            f"{what}: collection {name}: {field} {g.get(field)!r} is not a date")

    for kind in COMPARED:
        if kind == "collections":
            continue
        drop = TIMESTAMPS | LEDGER_TIMESTAMPS.get(kind, set())
        g_docs, w_docs = got[kind], want[kind]
        only_got = sorted(set(g_docs) - set(w_docs), key=str)
        only_want = sorted(set(w_docs) - set(g_docs), key=str)
        problems.expect(not only_got, f"{what}: {kind}: {len(only_got)} _ids not in the reference, "
                                      f"e.g. {[str(i) for i in only_got[:3]]}")
        problems.expect(not only_want, f"{what}: {kind}: {len(only_want)} reference _ids missing, "
                                       f"e.g. {[str(i) for i in only_want[:3]]}")
        differing = 0
        for _id in sorted(set(g_docs) & set(w_docs), key=str):
            g = remap(strip(g_docs[_id], drop), id_map)
            w = strip(w_docs[_id], drop)
            if kind == "ingest_dirs" and _id in undigested_dirs and g.get("digest") is None and g.get("files") == 0:
                continue
            if not ordered_equal(g, w):
                differing += 1
                if differing <= 5:
                    describe_difference(f"{what}: {kind}[{_id}]", g, w, problems)
        if differing > 5:
            problems.add(f"{what}: {kind}: {differing} documents differ in all")
        for doc in g_docs.values():
            for field in drop & set(doc):
                if field in TIMESTAMPS:
                    problems.expect(isinstance(doc[field], datetime.datetime),
                                    f"{what}: {kind}[{doc['_id']}].{field} {doc[field]!r} is not a date")
    problems.raise_if_any(f"differences from the reference catalogue ({what})")


# ------------------------------------------------------------------------------------------------------------------
# The checks


def check_shards_exit_zero(procs, manifest):
    problems = Problems()
    summaries = []
    for i, (proc, stdout, stderr) in enumerate(procs):
        problems.expect(proc.returncode == 0, f"shard {i}/{SHARDS} exited {proc.returncode}: {short(stderr)}")
        if proc.returncode == 0:
            lines = [line for line in stdout.strip().splitlines() if line.startswith("{")]
            if lines:
                summaries.append(json.loads(lines[-1]))
            else:
                problems.add(f"shard {i}/{SHARDS}: no JSON summary: {short(stdout)}")
    problems.raise_if_any("shard processes that failed")
    # Together the shards saw every file once and created every document once.
    seen = sum(s["files_seen"] for s in summaries)
    require(seen == manifest["files_total"], f"files_seen over the shards {seen} != files_total {manifest}")
    for kind in ("studies", "series", "instances"):
        inserted = sum(s[kind]["inserted"] for s in summaries)
        require(inserted == manifest[kind], f"{kind} inserted over the shards {inserted} != {manifest[kind]}")
    parsed = sum(s["dicom_parsed"] for s in summaries)
    require(parsed == manifest["dicom_files"], f"dicom_parsed over the shards {parsed} != {manifest['dicom_files']}")
    for i, s in enumerate(summaries):
        require(s["files_seen"] > 0, f"shard {i}/{SHARDS} saw no file (the split is degenerate): {s}")


def check_counts(db, manifest):
    for kind in ("studies", "series", "instances"):
        n = db[kind].count_documents({})
        require(n == manifest[kind], f"{db.name}.{kind}: {n} documents, manifest {manifest[kind]}")
    require(db.collections.count_documents({}) == 1, f"{db.name}: {db.collections.count_documents({})} collections")
    n = db.ingest_files.count_documents({})
    require(n == manifest["files_total"], f"{db.name}.ingest_files: {n} records, {manifest['files_total']} files")
    broken = sum(manifest["broken_files"].values())
    n = db.ingest_errors.count_documents({})
    require(n == broken, f"{db.name}.ingest_errors: {n} entries, {broken} broken files")


def check_collection_cases(db, manifest):
    cohort = db.collections.find_one({"name": COLLECTION})
    require(cohort is not None, f"no collection {COLLECTION}")
    cases = cohort.get("cases", [])
    require(len(cases) == manifest["patients"], f"{len(cases)} cases for {manifest['patients']} patients: {cases}")
    expected = {}
    for study in db.studies.find():
        expected.setdefault(study["patient_id"], set()).add(study["accession_number"])
    got = {(c["patient_id"], tuple(sorted(c["accession_numbers"]))) for c in cases}
    want = {(p, tuple(sorted(a))) for p, a in expected.items()}
    require(got == want, f"cases {sorted(got)} != the studies' patients and accession numbers {sorted(want)}")
    require(all(c["case_id"] == c["patient_id"] for c in cases), f"case_id is not the patient id: {cases}")
    for kind in ("studies", "series"):
        untagged = db[kind].count_documents({"collection_ids": {"$ne": cohort["_id"]}})
        require(untagged == 0, f"{untagged} {kind} without the collection's id in collection_ids")


def check_consistent(binary, uri):
    proc = meta_db(binary, "check", "--db", uri, "--quiet")
    report = proc.stdout.strip()
    require(proc.returncode == 0, f"meta_db check exited {proc.returncode}: {short(report)} {short(proc.stderr)}")
    parsed = json.loads(report.splitlines()[-1])
    require(parsed.get("violations") == 0, f"meta_db check: {short(report)}")


def check_rerun_changes_nothing(binary, archive, uri, db, before):
    proc = meta_db_ok(binary, "ingest", archive, "--db", uri, "--collection", COLLECTION, "--shard", f"1/{SHARDS}",
                      "--quiet")
    summary = summary_of(proc)
    require(summary["dicom_parsed"] == 0, f"re-run of shard 1/{SHARDS} parsed files again: {summary}")
    for kind in ("studies", "series", "instances"):
        require(summary[kind]["inserted"] == 0 and summary[kind]["updated"] == 0 and summary[kind]["removed"] == 0,
                f"re-run of shard 1/{SHARDS} wrote {kind}: {summary}")
    after = snapshot(db)
    problems = Problems()
    for kind in COMPARED:
        problems.expect(set(after[kind]) == set(before[kind]),
                        f"{kind}: documents added or removed by the re-run "
                        f"(+{len(set(after[kind]) - set(before[kind]))} -{len(set(before[kind]) - set(after[kind]))})")
        changed = [str(_id) for _id, doc in after[kind].items()
                   if _id in before[kind] and not ordered_equal(doc, before[kind][_id])]
        problems.expect(not changed, f"{kind}: {len(changed)} documents changed by the re-run, e.g. {changed[:3]}")
    problems.raise_if_any("changes made by re-running one shard")


def endpoint_paths(db):
    """The GETs compared between the two servers, with ids taken from the stored catalogue."""
    study = db.studies.find_one({}, sort=[("study_instance_uid", 1)])
    series = db.series.find_one({"modality": "CT"}, sort=[("num_instances", -1), ("_id", 1)])
    instance = db.instances.find_one({"series_id": series["_id"]}, sort=[("instance_number", 1)])
    cohort = db.collections.find_one({"name": COLLECTION})
    return [
        "/health",
        "/stats",
        "/studies?limit=50",
        "/studies?modality=CT&sort=-study_date,patient_id&limit=5&skip=1",
        "/series?modality=CT&sort=-series_number&limit=20",
        "/series?slice_thickness_max=2.5&sort=series_number&limit=50",
        f"/series?study_id={series['study_id']}",
        "/series?q=chest&limit=50",
        "/instances?limit=50",
        f"/studies/{study['_id']}",
        f"/studies/{study['_id']}/series",
        f"/studies/uid/{study['study_instance_uid']}",
        f"/series/{series['_id']}",
        f"/series/{series['_id']}/instances?limit=1000",
        f"/series/{series['_id']}/instances?sort=-instance_number&limit=7&skip=3",
        f"/series/uid/{series['series_instance_uid']}",
        f"/instances/{instance['_id']}",
        f"/instances/uid/{instance['sop_instance_uid']}",
        "/collections",
        f"/collections/{cohort['_id']}",
        f"/collections/{cohort['_id']}/studies?limit=50",
        "/fields?collection=series",
        "/fields?collection=studies",
        "/errors",
        "/researchers",
        "/jobs",
    ]


QUERIES = [
    {"collection": "series",
     "filter": {"$and": [{"modality": "CT"}, {"metadata.SliceThickness": {"$lte": 2.5}},
                         {"metadata.Manufacturer": {"$regex": "^(SIEMENS|GE|TOSHIBA|PHILIPS)", "$options": "i"}}]},
     "sort": {"num_instances": -1}, "limit": 10},
    {"collection": "studies", "query": {"metadata.StudyDescription": {"$exists": True}}, "sort": {"study_date": 1},
     "skip": 1, "limit": 3, "projection": {"study_instance_uid": 1, "study_date": 1}},
    {"collection": "instances", "filter": {"instance_number": {"$in": [1, 2, 3]}}, "sort": {"sop_instance_uid": 1},
     "limit": 20},
]


def check_servers_agree(servers, db):
    problems = Problems()
    a, b = servers
    compared = 0
    requests = [("GET", path, None) for path in endpoint_paths(db)] + [("POST", "/query", q) for q in QUERIES]
    for method, path, body in requests:
        sa, ra = a.request(method, path, body)
        sb, rb = b.request(method, path, body)
        label = f"{method} {path}" + (f" {json.dumps(body)[:80]}" if body else "")
        problems.expect(sa == 200, f"{label}: server A answered {sa}: {ra[:300]!r}")
        problems.expect(sb == 200, f"{label}: server B answered {sb}: {rb[:300]!r}")
        if sa != sb or ra != rb:
            try:
                ja, jb = json.loads(ra), json.loads(rb)
                nested = Problems()
                describe_difference(label, jb, ja, nested)
                detail = "; ".join(nested.items[:5]) or "same JSON, different bytes"
            except ValueError:
                detail = f"{ra[:200]!r} vs {rb[:200]!r}"
            problems.add(f"{label}: A {sa} / B {sb} differ: {detail}")
        else:
            compared += 1
            if path.startswith("/studies?limit") or path.startswith("/series?modality"):
                answer = json.loads(ra)
                problems.expect(answer.get("results"), f"{label}: empty answer {short(ra.decode(), 300)}")
    problems.raise_if_any(f"answers that differ between the two servers ({compared} agreed)")


def check_write_through_one_read_through_other(servers):
    a, b = servers
    researcher = {"researcher_id": f"r-scale-{os.getpid()}", "name": "Dr. Scale Out", "email": "scale@example.org"}
    status, created = a.json("POST", "/researchers", researcher)
    require(status == 201, f"POST /researchers on A -> {status} {created}")
    # The create answer also names the new id as the FastAPI app did; the stored document does not carry it.
    require(created.pop("inserted_id", None) == created["_id"], f"POST /researchers inserted_id: {created}")
    status, read = b.json("GET", f"/researchers/{created['_id']}")
    require(status == 200, f"GET /researchers/{created['_id']} on B -> {status} {read}")
    require(read == created, f"B reads {read}, A created {created}")
    status, listed = b.json("GET", f"/researchers?researcher_id={researcher['researcher_id']}")
    require(status == 200 and listed["total"] == 1 and listed["results"] == [created],
            f"GET /researchers?researcher_id= on B -> {status} {listed}")
    status, conflict = b.json("POST", "/researchers", researcher)
    require(status == 409, f"the same researcher_id posted to B -> {status} {conflict} (expected 409)")
    status, job = b.json("POST", "/jobs", {"researcher_id": researcher["researcher_id"], "name": "scale-out job",
                                           "patient_ids": ["LIDC-IDRI-0001"]})
    require(status == 202, f"POST /jobs on B -> {status} {job}")
    for _ in range(600):  # resolved in the background by B's runner
        status, job = b.json("GET", f"/jobs/{job['_id']}")
        if job.get("status") == "done":
            break
        time.sleep(0.05)
    status, again = a.json("GET", f"/researchers/{created['_id']}")
    require(status == 200 and again.get("jobs") == [job["_id"]],
            f"A reads the researcher after B's job: {status} {again} (expected jobs [{job['_id']}])")
    status, job_on_a = a.json("GET", f"/jobs/{job['_id']}")
    require(status == 200 and job_on_a == job, f"GET /jobs/{job['_id']} on A -> {status} {job_on_a}, B made {job}")


# ------------------------------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.environ.get("META_DB_BIN"))
    parser.add_argument("--repo", default=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    parser.add_argument("--patients", type=int, default=6)
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (and print it)")
    args = parser.parse_args()
    binary = args.binary or shutil.which("meta_db")
    if not binary or not os.access(binary, os.X_OK):
        print("scale_out_test: no meta_db binary (--binary or META_DB_BIN)", file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    binary = os.path.abspath(binary)

    # ctest's timeout (or a ^C) must still stop every server and process this test started: the finally below.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    results = Results()
    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="meta_db-scale-out-")
    ferret = FerretDB(args.repo, os.path.join(tmp, "ferretdb"))
    client = None
    servers = []
    try:
        server = ferret.start()
        print(f"scale_out_test: FerretDB at {server} (state {ferret.state})", flush=True)
        client = pymongo.MongoClient(server, serverSelectionTimeoutMS=WAIT * 1000, tz_aware=False)
        build = client.admin.command("buildInfo")
        print(f"scale_out_test: server {build.get('version')} FerretDB {build.get('ferretdbVersion', '-')}", flush=True)
        single_uri, sharded_uri = with_database(server, "single"), with_database(server, "sharded")
        warm_uri = with_database(server, "sharded_warm")

        archive = os.path.join(tmp, "archive")
        manifest = json.loads(meta_db_ok(binary, "synth", "--patients", str(args.patients), "--small", "--out",
                                         archive).stdout)
        t0 = time.monotonic()
        meta_db_ok(binary, "ingest", archive, "--db", single_uri, "--collection", COLLECTION, "--quiet")
        print(f"scale_out_test: one ingest of {manifest['files_total']} files: {time.monotonic() - t0:.1f}s",
              flush=True)

        def run_shards(uri):
            """The shard processes at once; [(proc, stdout, stderr)]."""
            t0 = time.monotonic()
            popens = [subprocess.Popen([binary, "ingest", archive, "--db", uri, "--collection", COLLECTION, "--shard",
                                        f"{i}/{SHARDS}", "--quiet"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True) for i in range(SHARDS)]
            finished = []
            deadline = time.monotonic() + INGEST_TIMEOUT
            for proc in popens:
                try:
                    out, err = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.kill()
                    out, err = proc.communicate(timeout=10)
                    err += f"\n(killed: still running after {INGEST_TIMEOUT}s)"
                finished.append((proc, out, err))
            print(f"scale_out_test: {SHARDS} concurrent shard ingests into {uri}: {time.monotonic() - t0:.1f}s",
                  flush=True)
            return finished

        # 1. Into a fresh database: the shards also race to create the indexes.
        cold = run_shards(sharded_uri)
        results.check(f"{SHARDS} concurrent `ingest --shard i/{SHARDS}` into a fresh database (they create its "
                      "indexes too) exit 0 and split the archive", check_shards_exit_zero, cold, manifest)

        def rerun_failed():
            for i, (proc, _, _) in enumerate(cold):
                if proc.returncode != 0:
                    meta_db_ok(binary, "ingest", archive, "--db", sharded_uri, "--collection", COLLECTION, "--shard",
                               f"{i}/{SHARDS}", "--quiet")
                    print(f"scale_out_test: re-ran the failed shard {i}/{SHARDS} alone", flush=True)

        if any(proc.returncode != 0 for proc, _, _ in cold):
            results.check("a failed shard re-run alone completes", rerun_failed)
        # 2. Into a database whose indexes exist (an ingest of an empty directory made them): only the writes race.
        empty = os.path.join(tmp, "empty")
        os.makedirs(empty)
        meta_db_ok(binary, "ingest", empty, "--db", warm_uri, "--quiet")
        warm = run_shards(warm_uri)
        results.check(f"{SHARDS} concurrent `ingest --shard i/{SHARDS}` into a database with its indexes exit 0 and "
                      "split the archive", check_shards_exit_zero, warm, manifest)

        single = client["single"]
        results.check("one ingest: counts equal the manifest", check_counts, single, manifest)
        results.check("one ingest: integers that fit in 32 bits are int32", check_int32, single)
        reference = snapshot(single)
        # No shard judges the archive root as a whole (its own files, manifest.json here, are split one by one:
        # JudgesDirectory in src/driver/ingest.cpp), so no shard records the root's digest: the next unsharded
        # ingest judges those few files one by one and records it (checked below).
        root_dir = os.path.join(archive, "")
        snapshots = {}
        for name, uri in (("sharded", sharded_uri), ("sharded_warm", warm_uri)):
            db = client[name]
            results.check(f"{name}: counts equal the manifest", check_counts, db, manifest)
            results.check(f"{name}: integers that fit in 32 bits are int32", check_int32, db)
            snapshots[name] = snapshot(db)
            results.check(f"{name}: catalogue == one ingest's (every collection, ledger included; same _ids, same "
                          "documents but timestamps; the root's digest may be missing)", compare_catalogues,
                          snapshots[name], reference, name, (root_dir,))
            results.check(f"{name}: the collection's cases are the patients with their accession numbers",
                          check_collection_cases, db, manifest)
            results.check(f"{name}: meta_db check finds the catalogue consistent", check_consistent, binary, uri)

        sharded = client["sharded_warm"]
        results.check(f"sharded_warm: re-running shard 1/{SHARDS} changes nothing", check_rerun_changes_nothing,
                      binary, archive, warm_uri, sharded, snapshots["sharded_warm"])

        def unsharded_completes_the_ledger():
            summary = summary_of(meta_db_ok(binary, "ingest", archive, "--db", warm_uri, "--collection", COLLECTION,
                                            "--quiet"))
            require(summary["dicom_parsed"] == 0, f"an unsharded ingest after the shards parsed files: {summary}")
            for kind in ("studies", "series", "instances"):
                require(summary[kind]["inserted"] == 0 and summary[kind]["updated"] == 0 and
                        summary[kind]["removed"] == 0, f"an unsharded ingest after the shards wrote {kind}: {summary}")
            compare_catalogues(snapshot(sharded), reference, "sharded_warm, then one unsharded ingest")

        results.check("sharded_warm: an unsharded ingest after the shards parses nothing, writes nothing and records "
                      "the root's digest: the ledger then equals one ingest's exactly", unsharded_completes_the_ledger)

        def start_servers():
            for _ in range(2):
                servers.append(Serve(binary, warm_uri))
            for s in servers:
                s.wait_healthy()
            require(servers[0].port != servers[1].port, "both servers on one port")
            print(f"scale_out_test: two servers on ports {servers[0].port} and {servers[1].port}", flush=True)

        if results.check("two `serve` processes on the sharded store answer /health 200", start_servers):
            results.check("both servers answer every GET and POST /query byte for byte the same",
                          check_servers_agree, servers, sharded)
            results.check("a researcher written through one server is read through the other (and 409 there); a "
                          "job made through the second shows in jobs[] through the first",
                          check_write_through_one_read_through_other, servers)
    except Exception as error:  # noqa: BLE001 - set-up failed: one failure, with the reason
        results.failed += 1
        print(f"FAIL set-up: {error}")
        traceback.print_exc()
    finally:
        for s in servers:
            s.stop()
        if client is not None:
            client.close()
        ferret.stop()
        if args.keep:
            print(f"scale_out_test: kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"scale_out_test: {time.monotonic() - started:.1f}s")
    print(f"{results.passed} passed, {results.failed} failed")
    return 0 if results.failed == 0 and results.passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
