#!/usr/bin/env python3
"""What the MongoDB back-end stores, read back independently with pymongo from a real server.

Synthesises a small LIDC-like archive, ingests it with the real `meta_db` into a fresh database, creates a collection
with cases, a researcher and a job through `meta_db serve`, then reads every document with pymongo and asserts the
seed's schema (shared/seed/original_request.md) in real BSON types:

- `_id` is an ObjectId everywhere; `series.study_id`, `instances.series_id`, `studies/series.collection_ids[]`,
  `studies.series[].series_id`, `series.instances[]`, `researchers.jobs[]`, `jobs.collection_id` are ObjectIds that
  resolve to existing documents;
- `created_at`/`updated_at` are BSON dates with millisecond precision, created <= updated;
- numbers keep the extractor's types (series_number/instance_number/num_instances integers, SliceThickness & co.
  doubles, never the other way round), DICOM dates stay "YYYYMMDD" strings;
- the documents equal, field by field and type by type, what the SQLite back-end stores for the same archive and the
  same API calls (ObjectId -> 24-hex, date -> "2026-11-25T08:41:40.123Z"); the ids of studies, series and instances
  (derived from the DICOM UIDs) are the same in both;
- the hierarchy's derived fields are exact: num_instances == len(instances) == instances with that series_id, the
  series' instances[] in instance_number order, studies.series[] equal to the series' own fields;
- the indexes (index_information()): unique on the five business keys (with the `$type: "string"` partial filter on a
  real MongoDB; FerretDB ignores partial/sparse options), an index led by series.study_id and instances.series_id,
  the text index on series._search_text where the server has text indexes;
- a second ingest of the unchanged archive changes no document.

Server: $META_DB_TEST_MONGO_URI (scripts/test.sh exports it); when unset, a throwaway FerretDB is started with
scripts/ferretdb.sh and stopped at the end, so this test never silently skips.
Usage: bson_types_test.py [--binary build/meta_db] [--repo DIR]   (env META_DB_BIN also names the binary)
Prints one line per check group and finally "N passed, N failed".
"""
import argparse
import datetime
import json
import os
import re
import shutil
import signal
import sqlite3
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
    print(f"bson_types_test: needs Debian's python3-pymongo: {error}", file=sys.stderr)
    print("0 passed, 1 failed")
    sys.exit(1)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from serve_process import ServeProcess  # noqa: E402
from catalogue_checks import Problems, require  # noqa: E402

WAIT = 20
KINDS = ("researchers", "collections", "studies", "series", "instances", "jobs")
UNIQUE_KEYS = {"researchers": "researcher_id", "collections": "name", "studies": "study_instance_uid",
               "series": "series_instance_uid", "instances": "sop_instance_uid"}
ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
HEX24 = re.compile(r"^[0-9a-f]{24}$")


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, fn, *args):
        started = time.monotonic()
        try:
            fn(*args)
        except Exception as error:  # noqa: BLE001 - one failed group, the others still run
            self.failed += 1
            detail = "".join(traceback.format_exception_only(type(error), error)).strip()
            if not isinstance(error, AssertionError):
                detail += "\n" + traceback.format_exc()
            print(f"FAIL {name} ({time.monotonic() - started:.1f}s): {detail}")
            return False
        self.passed += 1
        print(f"PASS {name} ({time.monotonic() - started:.1f}s)")
        return True


# ------------------------------------------------------------------------------------------------------------------
# Processes


def run(binary, *args, timeout=60):
    proc = subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise AssertionError(f"meta_db {' '.join(args)} exited {proc.returncode}: {proc.stderr[-2000:]}")
    return proc


class Serve(ServeProcess):
    def __init__(self, binary, uri):
        super().__init__(binary, uri, wait=WAIT)

    def post(self, path, body):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=json.dumps(body).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=WAIT) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")


def job_done(serve, job_id):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"http://127.0.0.1:{serve.port}/jobs/{job_id}", timeout=WAIT) as answer:
            job = json.loads(answer.read())
            if job["status"] == "done":
                return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} not done after {WAIT}s")


def with_database(uri, database):
    """The server URI with its path set to `database` (options and credentials kept)."""
    parts = urllib.parse.urlsplit(uri)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, ""))


def api_calls(binary, uri, accession_numbers, patient_id):
    """The same API calls against either back-end; returns what they answered."""
    serve = Serve(binary, uri)
    try:
        status, cohort = serve.post("/collections", {
            "name": "Cohort-A", "description": "Lung nodules, first reading",
            "cases": [{"case_id": "CASE001", "patient_id": patient_id, "accession_numbers": accession_numbers[:1]}]})
        require(status == 201, f"POST /collections -> {status} {cohort}")
        status, researcher = serve.post("/researchers", {"researcher_id": "r12345", "name": "Dr. Alice Lee",
                                                         "email": "alice@example.org"})
        require(status == 201, f"POST /researchers -> {status} {researcher}")
        status, job = serve.post("/jobs", {"researcher_id": "r12345", "name": "nodule cohort",
                                           "accession_numbers": accession_numbers + ["ACC-NOT-THERE"],
                                           "collection_id": cohort["_id"]})
        require(status == 202, f"POST /jobs -> {status} {job}")
        status, job2 = serve.post("/jobs", {"researcher_id": "r12345", "name": "by patient",
                                            "patient_ids": [patient_id], "collection_id": cohort["_id"]})
        require(status == 202, f"POST /jobs -> {status} {job2}")
        # Resolved in the background: both stores compared once done, as done.
        jobs = [job_done(serve, j["_id"]) for j in (job, job2)]
        return {"cohort": cohort, "researcher": researcher, "jobs": jobs}
    finally:
        serve.stop()


# ------------------------------------------------------------------------------------------------------------------
# Conversions


def to_neutral(value):
    """A pymongo value as the neutral JSON the SQLite back-end stores: ObjectId -> hex, date -> ISO ms Z."""
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
    if isinstance(value, Int64):
        return int(value)
    if isinstance(value, dict):
        return {k: to_neutral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_neutral(v) for v in value]
    return value


def type_name(value):
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    return type(value).__name__


def compare(path, mongo, lite, problems, skip_values):
    """Field by field, type by type; `skip_values`: leaf keys whose values legitimately differ between two ingests
    (timestamps, random ids), compared by form only."""
    if isinstance(lite, dict) and isinstance(mongo, dict):
        for key in sorted(set(mongo) | set(lite)):
            if key not in mongo:
                problems.add(f"{path}.{key}: in SQLite ({lite[key]!r}) but not in MongoDB")
            elif key not in lite:
                problems.add(f"{path}.{key}: in MongoDB ({mongo[key]!r}) but not in SQLite")
            else:
                compare(f"{path}.{key}", mongo[key], lite[key], problems, skip_values)
        return
    if isinstance(lite, list) and isinstance(mongo, list):
        if len(lite) != len(mongo):
            problems.add(f"{path}: {len(mongo)} elements in MongoDB, {len(lite)} in SQLite")
            return
        for i, (m, s) in enumerate(zip(mongo, lite)):
            compare(f"{path}[{i}]", m, s, problems, skip_values)
        return
    if type_name(mongo) != type_name(lite):
        problems.add(f"{path}: MongoDB {type_name(mongo)} {mongo!r} vs SQLite {type_name(lite)} {lite!r}")
        return
    leaf = path.rsplit(".", 1)[-1].split("[")[0]
    if leaf in skip_values:
        return
    if mongo != lite:
        problems.add(f"{path}: MongoDB {mongo!r} vs SQLite {lite!r}")


# ------------------------------------------------------------------------------------------------------------------
# The checks


class Catalogue:
    def __init__(self, db):
        self.db = db
        self.docs = {kind: {d["_id"]: d for d in db[kind].find()} for kind in KINDS}


def check_object_ids(cat):
    problems = Problems()
    for kind in KINDS:
        require(cat.docs[kind], f"no {kind} stored")
        for doc in cat.docs[kind].values():
            problems.expect(isinstance(doc["_id"], ObjectId), f"{kind} _id {doc['_id']!r} is not an ObjectId")
    problems.raise_if_any("_id values that are not ObjectIds")


def check_references(cat):
    problems = Problems()

    def ref(kind, doc, field, value, target):
        if not isinstance(value, ObjectId):
            problems.add(f"{kind} {doc['_id']}: {field} = {value!r} ({type(value).__name__}), not an ObjectId")
        elif value not in cat.docs[target]:
            problems.add(f"{kind} {doc['_id']}: {field} = {value} names no document of {target}")

    for doc in cat.docs["series"].values():
        ref("series", doc, "study_id", doc.get("study_id"), "studies")
        for i, cid in enumerate(doc.get("collection_ids", [])):
            ref("series", doc, f"collection_ids[{i}]", cid, "collections")
        problems.expect(isinstance(doc.get("instances"), list), f"series {doc['_id']}: instances is not an array")
        for i, iid in enumerate(doc.get("instances", [])):
            ref("series", doc, f"instances[{i}]", iid, "instances")
        problems.expect(doc.get("collection_ids"), f"series {doc['_id']}: no collection_ids (ingested --collection)")
    for doc in cat.docs["instances"].values():
        ref("instances", doc, "series_id", doc.get("series_id"), "series")
    for doc in cat.docs["studies"].values():
        problems.expect(doc.get("collection_ids"), f"study {doc['_id']}: no collection_ids (ingested --collection)")
        for i, cid in enumerate(doc.get("collection_ids", [])):
            ref("studies", doc, f"collection_ids[{i}]", cid, "collections")
        for i, summary in enumerate(doc.get("series", [])):
            ref("studies", doc, f"series[{i}].series_id", summary.get("series_id"), "series")
    for doc in cat.docs["researchers"].values():
        for i, jid in enumerate(doc.get("jobs", [])):
            ref("researchers", doc, f"jobs[{i}]", jid, "jobs")
    for doc in cat.docs["jobs"].values():
        if doc.get("collection_id") is not None:
            ref("jobs", doc, "collection_id", doc["collection_id"], "collections")
        problems.expect(isinstance(doc.get("researcher_id"), str), f"job {doc['_id']}: researcher_id not a string")
    researcher = next(d for d in cat.docs["researchers"].values() if d["researcher_id"] == "r12345")
    problems.expect(sorted(researcher["jobs"]) == sorted(cat.docs["jobs"]),
                    f"researcher r12345 jobs {researcher['jobs']} != the jobs {list(cat.docs['jobs'])}")
    problems.raise_if_any("references that are not ObjectIds of existing documents")


def check_dates(cat):
    problems = Problems()
    for kind in KINDS:
        for doc in cat.docs[kind].values():
            for field in ("created_at", "updated_at"):
                value = doc.get(field)
                if not isinstance(value, datetime.datetime):
                    problems.add(f"{kind} {doc['_id']}: {field} = {value!r} ({type(value).__name__}), not a BSON date")
                elif value.microsecond % 1000:
                    problems.add(f"{kind} {doc['_id']}: {field} {value} finer than milliseconds")
            if isinstance(doc.get("created_at"), datetime.datetime) and isinstance(doc.get("updated_at"),
                                                                                   datetime.datetime):
                problems.expect(doc["created_at"] <= doc["updated_at"], f"{kind} {doc['_id']}: created after updated")
                age = datetime.datetime.utcnow() - doc["updated_at"]
                problems.expect(datetime.timedelta(minutes=-5) < age < datetime.timedelta(hours=1),
                                f"{kind} {doc['_id']}: updated_at {doc['updated_at']} is not now (UTC)")
    problems.raise_if_any("timestamps that are not BSON dates")


def check_scalar_types(cat):
    problems = Problems()

    def is_int(value):
        return isinstance(value, int) and not isinstance(value, bool)

    for doc in cat.docs["studies"].values():
        problems.expect(isinstance(doc.get("study_date"), str) and re.fullmatch(r"\d{8}", doc["study_date"]),
                        f"study {doc['_id']}: study_date {doc.get('study_date')!r} is not a YYYYMMDD string")
        for field in ("study_instance_uid", "accession_number", "patient_id"):
            problems.expect(isinstance(doc.get(field), str), f"study {doc['_id']}: {field} not a string")
        problems.expect(isinstance(doc.get("metadata"), dict), f"study {doc['_id']}: metadata not a document")
        for summary in doc.get("series", []):
            problems.expect(is_int(summary.get("series_number")),
                            f"study {doc['_id']}: series[].series_number {summary.get('series_number')!r} not an int")
    doubles = ("SliceThickness", "KVP", "ReconstructionDiameter", "SpacingBetweenSlices", "DataCollectionDiameter",
               "GantryDetectorTilt")
    for doc in cat.docs["series"].values():
        for field in ("series_number", "num_instances"):
            problems.expect(is_int(doc.get(field)), f"series {doc['_id']}: {field} {doc.get(field)!r} not an int")
        meta = doc.get("metadata", {})
        for field in doubles:
            if field in meta:
                problems.expect(isinstance(meta[field], float),
                                f"series {doc['_id']}: metadata.{field} {meta[field]!r} is not a double")
        for field in ("Rows", "Columns", "BitsAllocated"):
            if field in meta:
                problems.expect(is_int(meta[field]), f"series {doc['_id']}: metadata.{field} not an int")
        if "PixelSpacing" in meta:
            problems.expect(isinstance(meta["PixelSpacing"], list) and
                            all(isinstance(v, float) for v in meta["PixelSpacing"]),
                            f"series {doc['_id']}: metadata.PixelSpacing {meta['PixelSpacing']!r} not doubles")
        problems.expect("SliceThickness" in meta, f"series {doc['_id']}: no metadata.SliceThickness")
        problems.expect(isinstance(doc.get("_search_text"), str) and doc["_search_text"],
                        f"series {doc['_id']}: _search_text missing")
        problems.expect("embeddings_id" in doc and doc["embeddings_id"] is None,
                        f"series {doc['_id']}: embeddings_id is not null")
        problems.expect(isinstance(doc.get("modality"), str), f"series {doc['_id']}: modality not a string")
    for doc in cat.docs["instances"].values():
        problems.expect(is_int(doc.get("instance_number")),
                        f"instance {doc['_id']}: instance_number {doc.get('instance_number')!r} not an int")
        for field in ("sop_instance_uid", "sop_class_uid"):
            problems.expect(isinstance(doc.get(field), str), f"instance {doc['_id']}: {field} not a string")
        if "acquisition_datetime" in doc:
            problems.expect(isinstance(doc["acquisition_datetime"], str),
                            f"instance {doc['_id']}: acquisition_datetime not a (DICOM DT) string")
    for doc in cat.docs["jobs"].values():
        problems.expect(is_int(doc.get("progress")) and is_int(doc.get("matched")),
                        f"job {doc['_id']}: progress/matched not ints")
    problems.raise_if_any("values of the wrong BSON type")


def check_hierarchy(cat):
    problems = Problems()
    by_series = {}
    for inst in cat.docs["instances"].values():
        by_series.setdefault(inst["series_id"], []).append(inst)
    for s in cat.docs["series"].values():
        children = by_series.get(s["_id"], [])
        counted = cat.db.instances.count_documents({"series_id": s["_id"]})
        problems.expect(s["num_instances"] == len(s["instances"]) == len(children) == counted,
                        f"series {s['_id']}: num_instances {s['num_instances']}, len(instances) {len(s['instances'])}, "
                        f"children {len(children)}, count_documents {counted}")
        ordered = [i["_id"] for i in sorted(children, key=lambda i: (i.get("instance_number", 0), str(i["_id"])))]
        problems.expect(s["instances"] == ordered, f"series {s['_id']}: instances[] not in instance_number order")
        numbers = [cat.docs["instances"][i]["instance_number"] for i in s["instances"] if i in cat.docs["instances"]]
        problems.expect(numbers == sorted(numbers), f"series {s['_id']}: instance numbers {numbers[:10]}... unsorted")
    for study in cat.docs["studies"].values():
        own = [s for s in cat.docs["series"].values() if s["study_id"] == study["_id"]]
        summary_ids = [e["series_id"] for e in study["series"]]
        problems.expect(sorted(summary_ids) == sorted(s["_id"] for s in own),
                        f"study {study['_id']}: series[] {summary_ids} != its series {[s['_id'] for s in own]}")
        for entry in study["series"]:
            s = cat.docs["series"].get(entry["series_id"])
            if s is None:
                continue
            for field, value in entry.items():
                own_value = s.get("_id" if field == "series_id" else field)
                problems.expect(own_value == value and type_name(own_value) == type_name(value),
                                f"study {study['_id']}: series[].{field} {value!r} != series' {own_value!r}")
            for field in ("series_instance_uid", "series_number", "series_description", "modality"):
                problems.expect(field in entry, f"study {study['_id']}: series[] lacks {field}")
        for field in ("patient_id", "accession_number"):
            for s in own:
                problems.expect(s.get(field) == study.get(field), f"series {s['_id']}: {field} differs from its study")
    problems.raise_if_any("hierarchy invariants broken")


def check_equals_sqlite(cat, sqlite_path):
    problems = Problems()
    lite = sqlite3.connect(f"file:{sqlite_path}?mode=ro", uri=True)
    lite_docs = {kind: [json.loads(doc) for (doc,) in lite.execute(f"SELECT doc FROM {kind}")] for kind in KINDS}
    lite.close()
    # Ids of collections, researchers and jobs are new ObjectIds on each store: pair them by business key.
    id_map = {}
    for kind, key in (("collections", "name"), ("researchers", "researcher_id"), ("jobs", "name")):
        lite_by_key = {d[key]: d["_id"] for d in lite_docs[kind]}
        for doc in cat.docs[kind].values():
            if doc[key] in lite_by_key:
                id_map[str(doc["_id"])] = lite_by_key[doc[key]]
            else:
                problems.add(f"{kind} {key}={doc[key]!r} is in MongoDB only")

    def remap(value):
        if isinstance(value, str) and value in id_map:
            return id_map[value]
        if isinstance(value, dict):
            return {k: remap(v) for k, v in value.items()}
        if isinstance(value, list):
            return [remap(v) for v in value]
        return value

    for kind in KINDS:
        mongo_docs = {}
        for doc in cat.docs[kind].values():
            neutral = remap(to_neutral(doc))
            mongo_docs[neutral["_id"]] = neutral
        lite_by_id = {d["_id"]: d for d in lite_docs[kind]}
        problems.expect(len(mongo_docs) == len(lite_by_id),
                        f"{kind}: {len(mongo_docs)} documents in MongoDB, {len(lite_by_id)} in SQLite")
        if kind in ("studies", "series", "instances"):
            missing = sorted(set(lite_by_id) - set(mongo_docs))[:5]
            problems.expect(not missing, f"{kind}: ids derived from UIDs differ between the stores, e.g. {missing}")
        for _id, neutral in mongo_docs.items():
            other = lite_by_id.get(_id)
            if other is None:
                continue
            for field in ("created_at", "updated_at"):
                if isinstance(other.get(field), str):
                    problems.expect(ISO_MS.match(other[field]), f"SQLite {kind} {_id}: {field} {other[field]!r}")
                problems.expect(isinstance(neutral.get(field), str) and ISO_MS.match(neutral[field]),
                                f"MongoDB {kind} {_id}: {field} {neutral.get(field)!r} not an ISO-8601 ms date")
            # A job snapshot names when and after which ingest (its audit record) it was taken: one per store.
            compare(f"{kind}[{_id}]", neutral, other, problems,
                    skip_values={"created_at", "updated_at", "at", "ingest", "since"})
    problems.raise_if_any("differences between the MongoDB and the SQLite documents")


def check_indexes(db, ferretdb):
    problems = Problems()
    info = {kind: db[kind].index_information() for kind in KINDS + ("meta_db_info",)}

    def led_by(kind, field):
        return [(n, s) for n, s in info[kind].items() if s["key"][0][0] == field]

    for kind, key in UNIQUE_KEYS.items():
        found = [(n, s) for n, s in led_by(kind, key) if s.get("unique")]
        if not found:
            problems.add(f"{kind}: no unique index on {key} (indexes: {sorted(info[kind])})")
            continue
        name, spec = found[0]
        problems.expect([k for k, _ in spec["key"]] == [key], f"{kind}.{name}: key {spec['key']} is not ({key})")
        if not ferretdb:
            # Strings only (SQLite's UNIQUE lets documents without the key, or with null, coexist): the $type filter
            # the store sends, or the equivalent {$gte: ""} (which the planner can prove from an equality), or sparse.
            problems.expect(spec.get("partialFilterExpression") in ({key: {"$type": "string"}}, {key: {"$gte": ""}})
                            or spec.get("sparse"),
                            f"{kind}.{name}: neither a strings-only partial filter nor sparse: {spec}")
    for kind, field, then in (("series", "study_id", "series_number"), ("instances", "series_id", "instance_number")):
        found = led_by(kind, field)
        problems.expect(found, f"{kind}: no index led by {field} (indexes: {sorted(info[kind])})")
        if found:
            keys = [k for k, _ in found[0][1]["key"]]
            problems.expect(keys == [field, then],
                            f"{kind}: index {found[0][0]} keys {keys}, expected [{field}, {then}]")
    marker = db.meta_db_info.find_one({"_id": "indexes"})
    problems.expect(marker is not None and isinstance(marker.get("version"), int),
                    f"meta_db_info marker {marker!r}")
    text = [n for n, s in info["series"].items() if any(v == "text" for _, v in s["key"])]
    if marker is not None and marker.get("text_index"):
        problems.expect(text, "meta_db_info says text_index but series has no text index")
    if not ferretdb:
        problems.expect(text, "series has no text index on _search_text (a real MongoDB has text indexes)")
        problems.expect(marker is not None and marker.get("text_index") is True, f"marker {marker!r}")
    problems.raise_if_any("index problems")


def check_reingest_changes_nothing(binary, archive, uri, db, before):
    proc = run(binary, "ingest", archive, "--db", uri, "--collection", "LIDC-IDRI", "--quiet")
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    require(summary["dicom_parsed"] == 0, f"second ingest parsed files again: {summary}")
    for kind in ("studies", "series", "instances"):
        require(summary[kind]["inserted"] == 0 and summary[kind]["updated"] == 0, f"second ingest: {summary}")
    problems = Problems()
    after = Catalogue(db)
    for kind in KINDS:
        problems.expect(set(after.docs[kind]) == set(before.docs[kind]), f"{kind}: documents added or removed")
        for _id, doc in after.docs[kind].items():
            if _id in before.docs[kind] and doc != before.docs[kind][_id]:
                changed = sorted(k for k in set(doc) | set(before.docs[kind][_id])
                                 if doc.get(k) != before.docs[kind][_id].get(k))
                problems.add(f"{kind} {_id}: changed by a re-ingest: {changed}")
    problems.raise_if_any("documents changed by ingesting the same archive again")


# ------------------------------------------------------------------------------------------------------------------


def start_ferretdb(repo, state):
    script = os.path.join(repo, "scripts", "ferretdb.sh")
    proc = subprocess.run([script, "start", state], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"scripts/ferretdb.sh start failed: {proc.stderr.strip()}")
    return proc.stdout.strip().splitlines()[-1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.environ.get("META_DB_BIN"))
    parser.add_argument("--repo", default=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    parser.add_argument("--patients", type=int, default=3)
    args = parser.parse_args()
    binary = args.binary or shutil.which("meta_db")
    if not binary or not os.access(binary, os.X_OK):
        print("bson_types_test: no meta_db binary (--binary or META_DB_BIN)", file=sys.stderr)
        print("0 passed, 1 failed")
        return 1

    results = Results()
    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="meta_db-bson-")
    ferret_state = None
    client = None
    database = f"meta_db_bson_{os.getpid()}_{int(time.time())}"
    try:
        server = os.environ.get("META_DB_TEST_MONGO_URI", "").strip()
        if not server:
            ferret_state = os.path.join(tmp, "ferretdb")
            server = start_ferretdb(args.repo, ferret_state)
            print(f"bson_types_test: META_DB_TEST_MONGO_URI unset; started FerretDB at {server}")
        uri = with_database(server, database)
        client = pymongo.MongoClient(server, serverSelectionTimeoutMS=WAIT * 1000, tz_aware=False)
        build = client.admin.command("buildInfo")
        ferretdb = "ferretdbVersion" in build
        print(f"bson_types_test: server {build.get('version')}"
              f"{' (FerretDB ' + build['ferretdbVersion'] + ')' if ferretdb else ''}, database {database}")
        db = client[database]

        archive = os.path.join(tmp, "archive")
        manifest = json.loads(run(binary, "synth", "--patients", str(args.patients), "--small", "--out",
                                  archive).stdout)
        sqlite_path = os.path.join(tmp, "same.sqlite")
        for target in (uri, f"sqlite:{sqlite_path}"):
            run(binary, "ingest", archive, "--db", target, "--collection", "LIDC-IDRI", "--quiet")
        studies = list(db.studies.find().sort("study_instance_uid", 1))
        accessions = [s["accession_number"] for s in studies[:2]]
        answers = {}
        for name, target in (("mongo", uri), ("sqlite", f"sqlite:{sqlite_path}")):
            answers[name] = api_calls(binary, target, accessions, studies[-1]["patient_id"])

        stats_mongo = json.loads(run(binary, "stats", "--db", uri).stdout)
        stats_lite = json.loads(run(binary, "stats", "--db", f"sqlite:{sqlite_path}").stdout)

        cat = Catalogue(db)

        def counts():
            require(stats_mongo == stats_lite, f"stats differ: MongoDB {stats_mongo} SQLite {stats_lite}")
            for kind in ("studies", "series", "instances"):
                require(len(cat.docs[kind]) == manifest[kind], f"{kind}: {len(cat.docs[kind])} != {manifest[kind]}")
            require(len(cat.docs["jobs"]) == 2 and len(cat.docs["researchers"]) == 1 and
                    len(cat.docs["collections"]) == 2, f"api documents: {stats_mongo}")
            job = answers["mongo"]["jobs"][0]
            require(job["matched"] == len(accessions) and job["unmatched"] == ["ACC-NOT-THERE"], f"job {job}")
            require(HEX24.match(job["_id"]) and ObjectId(job["_id"]) in cat.docs["jobs"], f"job id {job['_id']}")

        results.check("counts equal the manifest and the SQLite store", counts)
        results.check("_id is an ObjectId in every document", check_object_ids, cat)
        results.check("references are ObjectIds of existing documents", check_references, cat)
        results.check("created_at/updated_at are BSON dates (ms)", check_dates, cat)
        results.check("numbers, DICOM dates and strings keep the extractor's types", check_scalar_types, cat)
        results.check("hierarchy: num_instances, instances[] order, studies.series[] summaries", check_hierarchy, cat)
        results.check("documents equal the SQLite back-end's, field by field", check_equals_sqlite, cat, sqlite_path)
        results.check("indexes: unique keys, parent indexes, text index", check_indexes, db, ferretdb)
        results.check("a second ingest of the same archive changes nothing", check_reingest_changes_nothing,
                      binary, archive, uri, db, cat)
    except Exception as error:  # noqa: BLE001 - set-up failed: one failure, with the reason
        results.failed += 1
        print(f"FAIL set-up: {error}")
        traceback.print_exc()
    finally:
        if client is not None:
            try:
                client.drop_database(database)
            except Exception as error:  # noqa: BLE001
                print(f"bson_types_test: could not drop {database}: {error}", file=sys.stderr)
            client.close()
        if ferret_state is not None:
            subprocess.run([os.path.join(args.repo, "scripts", "ferretdb.sh"), "stop", ferret_state],
                           capture_output=True, timeout=60)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"bson_types_test: {time.monotonic() - started:.1f}s")
    print(f"{results.passed} passed, {results.failed} failed")
    return 0 if results.failed == 0 and results.passed > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
