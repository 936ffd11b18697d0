"""Streamed exports and the earlier FastAPI app's shapes, black-box on the real `meta_db serve` (both stores).

Exports (GET /collections/{id}/export, POST /query/export, `meta_db export`) are parsed back and compared with
/query; ML splits are checked for whole patients, proportions per stratum and seed reproducibility; bad options
answer 400 naming them; an export is audited with its row count; a client that goes away mid-export costs nothing.
FastAPI compatibility: `detail` in errors, `inserted_id` in create answers, /available-fields,
/available-metadata-fields, /query bodies with `sort: {}` and 24-hex ids.
  python3 tests/api/export_test.py --binary build/meta_db [--backend sqlite|mongodb]
"""
import argparse
import collections
import csv
import io
import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "security"))
import harness  # noqa: E402


def query_all(server, collection, query):
    docs, skip = [], 0
    while True:
        status, _, body = server.request("POST", "/query", {"collection": collection, "query": query, "skip": skip,
                                                            "limit": 1000, "sort": {"_id": 1}})
        assert status == 200, body
        page = json.loads(body)
        docs.extend(page["results"])
        skip += 1000
        if skip >= page["total"]:
            return docs


def csv_rows(body):
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"), newline="")))


def cell(doc, path):
    """The CSV text meta_db writes for a dotted path (docs/exports.md)."""
    value = doc
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return ""
        value = value[part]
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list) and all(not isinstance(v, (list, dict)) for v in value):
        return "|".join(cell({"v": v}, "v") for v in value)
    if isinstance(value, (list, dict)):
        return None  # nested: JSON text, compared parsed
    if isinstance(value, float):
        return None  # number formatting: compared numerically
    return str(value)


def same_cell(text, doc, path):
    want = cell(doc, path)
    if want is not None:
        return text == want
    value = doc
    for part in path.split("."):
        value = value[part]
    if isinstance(value, float):
        return abs(float(text) - value) <= 1e-9 * max(1.0, abs(value))
    return json.loads(text) == value


def check_errors(server, r):
    bad = [
        ("GET", "/collections/{cid}/export?format=xml", None, "format"),
        ("GET", "/collections/{cid}/export?level=patients", None, "level"),
        ("GET", "/collections/{cid}/export?fields=_id,bogus_field", None, "fields"),
        ("GET", "/collections/{cid}/export?split=train:x,test:30", None, "split"),
        ("GET", "/collections/{cid}/export?split=train:70,val:30&stratify=nothing_like_it", None, "stratify"),
        ("GET", "/collections/{cid}/export?stratify=metadata.Manufacturer", None, "stratify"),
        ("GET", "/collections/{cid}/export?split=train:70,val:30&seed=-1", None, "seed"),
        ("GET", "/collections/{cid}/export?format=tcia&split=a:1,b:1", None, "split"),
        ("POST", "/query/export?format=jsonl", {"collection": "researchers"}, "collection"),
        ("POST", "/query/export", {"collection": "series", "query": {"$where": "1"}}, None),
        ("POST", "/query/export?level=series", {"collection": "series"}, "level"),
    ]
    for method, path, body, named in bad:
        path = path.replace("{cid}", r.cid)
        status, headers, text = server.request(method, path, body)
        ok = status == 400 and headers.get("content-type", "").startswith("application/json")
        error = json.loads(text) if ok else {}
        if ok and named is not None:
            details = error["error"].get("details", {})
            ok = named in (details.get("parameter"), details.get("field")) or named in error["error"]["message"]
        ok = ok and error.get("detail") == error["error"]["message"]
        r.check(ok, f"{method} {path} -> 400 naming {named}, with FastAPI's detail ({status} {text[:120]!r})")
    status, _, text = server.request("GET", "/collections/0123456789abcdef01234567/export")
    r.check(status == 404 and json.loads(text).get("detail"), f"export of an unknown collection -> 404 ({status})")


def check_compat(server, r, series):
    status, _, body = server.request("POST", "/researchers", {"researcher_id": "r-exp", "name": "Dr. E",
                                                             "email": "e@example.org"})
    doc = json.loads(body)
    r.check(status == 201 and doc.get("inserted_id") == doc.get("_id") and doc.get("name") == "Dr. E",
            f"POST /researchers answers inserted_id beside the document ({status} {body[:120]!r})")
    status, _, body = server.request("POST", "/studies", {"study_instance_uid": "1.2.3.999", "patient_id": "PX"})
    study = json.loads(body)
    r.check(status == 201 and study.get("inserted_id") == study.get("_id"), f"POST /studies inserted_id ({status})")
    status, _, body = server.request("POST", "/series", {"series_instance_uid": "1.2.3.999.1",
                                                         "study_id": study["_id"]})
    new_series = json.loads(body)
    r.check(status == 201 and new_series.get("inserted_id") == new_series.get("_id"), f"POST /series ({status})")
    status, _, body = server.request("POST", "/instances", {"sop_instance_uid": "1.2.3.999.1.1",
                                                            "series_id": new_series["_id"]})
    r.check(status == 201 and json.loads(body).get("inserted_id"), f"POST /instances inserted_id ({status})")
    status, _, body = server.request("GET", "/studies/zz")
    error = json.loads(body)
    r.check(status == 400 and error.get("detail") == error["error"]["message"], "errors carry detail == message")

    status, _, body = server.request("GET", "/available-fields?collection=series")
    fields = json.loads(body).get("fields", []) if status == 200 else []
    r.check({"series_instance_uid", "study_id", "metadata", "modality"} <= set(fields),
            f"/available-fields?collection=series -> fields ({status} {fields[:6]})")
    status, _, body = server.request("GET", "/available-fields?collection=jobs")
    r.check(status == 400 and "detail" in json.loads(body), f"/available-fields of jobs -> 400 ({status})")
    status, _, body = server.request("GET", "/available-metadata-fields?collection=series")
    keys = json.loads(body).get("metadata_fields", []) if status == 200 else []
    stored = set()
    for doc in series:
        stored.update(doc.get("metadata", {}).keys())
    r.check(status == 200 and set(keys) == stored, f"/available-metadata-fields lists the stored keywords ({len(keys)})")
    status, _, body = server.request("GET", f"/available-metadata-fields?collection=series&collection_id={r.cid}")
    tagged = [doc for doc in series if r.cid in doc.get("collection_ids", [])]
    want = set()
    for doc in tagged:
        want.update(doc.get("metadata", {}).keys())
    r.check(status == 200 and set(json.loads(body)["metadata_fields"]) == want,
            f"/available-metadata-fields with collection_id: the tagged series' keywords ({status})")

    study_id = series[0]["study_id"]
    status, _, body = server.request("POST", "/query", {"collection": "series", "query": {"study_id": study_id},
                                                        "limit": 1000, "skip": 0, "sort": {}})
    got = json.loads(body) if status == 200 else {}
    want_ids = sorted(d["_id"] for d in series if d["study_id"] == study_id)
    r.check(status == 200 and sorted(d["_id"] for d in got["results"]) == want_ids and got["total"] == len(want_ids),
            f"FastAPI /query body: sort {{}} and a 24-hex study_id ({status})")
    status, _, body = server.request("POST", "/query", {"collection": "series", "query": {"_id": series[1]["_id"]}})
    got = json.loads(body) if status == 200 else {}
    r.check(status == 200 and [d["_id"] for d in got["results"]] == [series[1]["_id"]], "/query by a 24-hex _id")


def export(server, method, path, body=None):
    start = time.monotonic()
    status, headers, data = server.request(method, path, body, timeout=120)
    return status, headers, data, time.monotonic() - start


def first_byte_ms(server, path, body):
    """Milliseconds from sending the request to the first byte of the answer."""
    data = json.dumps(body).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        request = (f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n").encode() + data
        start = time.monotonic()
        sock.sendall(request)
        sock.recv(1)
        return (time.monotonic() - start) * 1000


def check_exports(server, r, binary, uri, work):
    series = query_all(server, "series", {})
    instances = query_all(server, "instances", {})
    studies = query_all(server, "studies", {})
    series_by_id = {d["_id"]: d for d in series}

    # A collection tagged on a few series (as linking does).
    status, _, body = server.request("POST", "/collections", {"name": "export-cohort"})
    created = json.loads(body)
    r.check(status == 201 and created.get("inserted_id") == created["_id"], f"POST /collections inserted_id ({status})")
    r.cid = created["_id"]
    for doc in series[:3]:
        status, _, _ = server.request("PATCH", f"/series/{doc['_id']}", {"collection_ids": [r.cid]})
        assert status == 200, status
    series = query_all(server, "series", {})
    tagged = query_all(server, "series", {"collection_ids": r.cid})

    status, headers, data, _ = export(server, "GET", f"/collections/{r.cid}/export")
    rows = csv_rows(data) if status == 200 else []
    r.check(status == 200 and headers.get("transfer-encoding") == "chunked" and
            headers.get("content-type", "").startswith("text/csv"),
            f"collection export: 200, chunked, text/csv ({status} {headers.get('transfer-encoding')})")
    r.check(sorted(row["_id"] for row in rows) == sorted(d["_id"] for d in tagged) and len(tagged) == 3,
            f"collection export: exactly the tagged series ({len(rows)} rows)")
    ok = True
    for row in rows:
        doc = series_by_id[row["_id"]]
        for field in ("series_instance_uid", "patient_id", "modality", "series_number", "num_instances", "study_id"):
            ok = ok and same_cell(row[field], doc, field)
        own = [i["path"] for i in instances if i["series_id"] == row["_id"]]
        ok = ok and bool(own) and all(os.path.dirname(p) == row["path"] for p in own) and os.path.isdir(row["path"])
    r.check(ok and rows, "collection export: cells equal /query's documents; path is the series' directory")
    status, _, data, _ = export(server, "GET", f"/collections/{r.cid}/export?level=instances&format=jsonl")
    lines = [json.loads(line) for line in data.decode().splitlines()] if status == 200 else []
    want = sorted(i["_id"] for i in instances if i["series_id"] in {d["_id"] for d in tagged})
    r.check(sorted(d["_id"] for d in lines) == want and len(want) > 0,
            f"collection export of instances: the tagged series' instances ({len(lines)} of {len(want)})")

    # Every instance as JSON lines: the neutral documents /query answers, one per line.
    status, headers, data, _ = export(server, "POST", "/query/export?format=jsonl", {"collection": "instances",
                                                                                      "query": {}, "limit": 5})
    lines = [json.loads(line) for line in data.decode().splitlines()] if status == 200 else []
    r.check(status == 200 and headers.get("content-type", "").startswith("application/x-ndjson"),
            f"POST /query/export jsonl: 200 application/x-ndjson ({status})")
    r.check(lines == sorted(instances, key=lambda d: d["_id"]),
            f"jsonl export equals /query's documents, in _id order, every match (limit ignored; {len(lines)} lines)")
    r.check(all(os.path.isfile(d["path"]) for d in lines) and lines, "each instance's path is its file on the archive")

    # Chosen fields as CSV, with a filter on a metadata path.
    manufacturer = next(d["metadata"]["Manufacturer"] for d in series if d.get("metadata", {}).get("Manufacturer"))
    body = {"collection": "series", "query": {"metadata.Manufacturer": manufacturer}}
    fields = "_id,series_instance_uid,metadata.Manufacturer,metadata.SliceThickness,collection_ids,path"
    status, _, data, _ = export(server, "POST", f"/query/export?fields={fields}", body)
    rows = csv_rows(data) if status == 200 else []
    matching = query_all(server, "series", body["query"])
    ok = [row["_id"] for row in rows] == [d["_id"] for d in sorted(matching, key=lambda d: d["_id"])]
    for row in rows:
        doc = next(d for d in matching if d["_id"] == row["_id"])
        ok = ok and list(row.keys()) == fields.split(",")
        for field in fields.split(",")[:-1]:
            ok = ok and same_cell(row[field], doc, field)
    r.check(ok and rows, f"csv with chosen fields (metadata paths, an array joined by |) equals /query ({len(rows)})")

    # TCIA manifest: the NBIA Data Retriever's header, then each matching series once.
    status, headers, data, _ = export(server, "POST", "/query/export?format=tcia", {"collection": "instances"})
    text = data.decode()
    head = text.split("ListOfSeriesToDownload=\n")[0].splitlines()
    uids = text.split("ListOfSeriesToDownload=\n")[1].splitlines() if "ListOfSeriesToDownload=\n" in text else []
    r.check([line.split("=")[0] for line in head] == ["downloadServerUrl", "includeAnnotation", "noOfrRetry",
                                                      "databasketId", "manifestVersion"] and
            "manifestVersion=3.0" in head,
            f"tcia manifest header ({head})")
    r.check(sorted(uids) == sorted(d["series_instance_uid"] for d in series if d["num_instances"] > 0) and
            len(uids) == len(set(uids)), f"tcia manifest lists every series with instances once ({len(uids)})")
    status, _, data, _ = export(server, "GET", f"/collections/{r.cid}/export?format=tcia&level=studies")
    uids = data.decode().split("ListOfSeriesToDownload=\n")[1].splitlines()
    # Only series were tagged here, no study: the studies-level manifest is empty but well-formed.
    r.check(status == 200 and uids == [], f"studies-level manifest of a collection with no tagged study ({status})")

    # ML split at instance level, stratified by the series' manufacturer.
    split_path = "/query/export?fields=_id,series_id&split=train:70,val:15,test:15&stratify=metadata.Manufacturer" \
                 "&seed=42"
    status, _, data, _ = export(server, "POST", split_path, {"collection": "instances"})
    rows = csv_rows(data) if status == 200 else []
    r.check(status == 200 and len(rows) == len(instances) and all(row["split"] for row in rows),
            f"split export: every instance has a split ({status} {len(rows)})")
    patient_split = collections.defaultdict(set)
    patient_stratum = {}
    for row in rows:
        s = series_by_id[row["series_id"]]
        patient_split[s["patient_id"]].add(row["split"])
        patient_stratum.setdefault(s["patient_id"], collections.Counter())[s.get("metadata", {}).get("Manufacturer",
                                                                                                    "")] += 1
    r.check(all(len(v) == 1 for v in patient_split.values()) and len(patient_split) == len({d["patient_id"]
                                                                                            for d in series}),
            f"no patient in two splits ({len(patient_split)} patients)")
    strata = collections.defaultdict(collections.Counter)
    for patient, counter in patient_stratum.items():
        top = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        strata[top][next(iter(patient_split[patient]))] += 1
    ok = True
    for stratum, counts in strata.items():
        n = sum(counts.values())
        for part, weight in (("train", 70), ("val", 15), ("test", 15)):
            ok = ok and abs(counts.get(part, 0) - n * weight / 100) <= 1
    total = collections.Counter(next(iter(v)) for v in patient_split.values())
    for part, weight in (("train", 70), ("val", 15), ("test", 15)):
        ok = ok and abs(total.get(part, 0) - len(patient_split) * weight / 100) <= len(strata)
    r.check(ok, f"proportions within one patient of the target per stratum ({dict(strata)})")
    status, _, again, _ = export(server, "POST", split_path, {"collection": "instances"})
    r.check(again == data, "same seed -> the same split, byte for byte")
    status, _, other, _ = export(server, "POST", split_path.replace("seed=42", "seed=7"), {"collection": "instances"})
    other_split = {row["_id"]: row["split"] for row in csv_rows(other)}
    r.check(other_split != {row["_id"]: row["split"] for row in rows}, "a different seed -> a different split")
    status, _, series_split, _ = export(server, "GET", f"/collections/{r.cid}/export?split=a:1,b:1&format=jsonl")
    lines = [json.loads(line) for line in series_split.decode().splitlines()]
    r.check(status == 200 and all(d["split"] in ("a", "b") for d in lines) and len(lines) == 3,
            "jsonl split: a split field on each document")

    # The audit log has each export with its row count.
    status, _, body = server.request("GET", "/audit?action=export&limit=1000")
    records = json.loads(body)["results"] if status == 200 else []
    jsonl_all = [a for a in records if a["path"] == "/query/export" and a["documents"] == len(instances)]
    r.check(len(jsonl_all) >= 3, f"exports audited with their row counts ({len(records)} records)")

    # The first byte comes before the rows are read; a client leaving mid-export frees its worker.
    ms = min(first_byte_ms(server, "/query/export?format=jsonl", {"collection": "instances"}) for _ in range(3))
    r.check(ms < 500, f"first byte of an export after {ms:.1f} ms")
    for _ in range(12 if r.backend == "sqlite" else 4):
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            data = json.dumps({"collection": "instances"}).encode()
            sock.sendall(b"POST /query/export?format=jsonl HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: " + str(len(data)).encode() + b"\r\n\r\n" + data)
            sock.recv(100)
    status, _, _ = server.request("GET", "/health")
    status2, _, body = server.request("POST", "/query", {"collection": "series", "limit": 1})
    r.check(status == 200 and status2 == 200 and server.alive(), "clients leaving mid-export: the server serves on")

    # The command line writes the same bytes with the same writer.
    query_file = os.path.join(work, "q.json")
    with open(query_file, "w") as f:
        json.dump({"collection": "instances", "query": {}}, f)
    out = os.path.join(work, "cli.csv")
    run = subprocess.run([binary, "export", "--db", uri, "--query-file", query_file, "--split", "train:70,val:15,test:15",
                          "--stratify", "metadata.Manufacturer", "--seed", "42", "--fields", "_id,series_id",
                          "--out", out], capture_output=True, timeout=120)
    r.check(run.returncode == 0 and open(out, "rb").read() == data_of(server, split_path),
            f"meta_db export --query-file writes what POST /query/export answers ({run.returncode} {run.stderr[-200:]!r})")
    run = subprocess.run([binary, "export", "--db", uri, "--collection", "export-cohort", "--format", "tcia",
                          "--out", "-"], capture_output=True, timeout=120)
    _, _, http_tcia, _ = export(server, "GET", f"/collections/{r.cid}/export?format=tcia")
    r.check(run.returncode == 0 and run.stdout == http_tcia, f"meta_db export --collection to stdout ({run.returncode})")
    run = subprocess.run([binary, "export", "--db", uri, "--collection", "export-cohort", "--format", "xml"],
                         capture_output=True, timeout=60)
    r.check(run.returncode == 2 and b"xml" in run.stderr and not os.path.exists(os.path.join(work, "x")),
            f"meta_db export --format xml: exit 2 naming it ({run.returncode})")
    return series


def data_of(server, path):
    return server.request("POST", path, {"collection": "instances"}, timeout=120)[2]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.environ.get("META_DB_BIN", "build/meta_db"))
    parser.add_argument("--backend", default=os.environ.get("META_DB_TEST_BACKEND", "sqlite"))
    parser.add_argument("--patients", type=int, default=0, help="default 24 on SQLite, 12 on MongoDB (FerretDB is slow)")
    args = parser.parse_args()
    args.patients = args.patients or (24 if args.backend == "sqlite" else 12)
    work = harness.workdir("meta_db_export-")
    uri = harness.store_uri(args.backend, work, "export")
    if uri is None:
        print("export_test: needs a MongoDB server: set META_DB_TEST_MONGO_URI")
        return 0
    r = harness.Results("export")
    r.backend = args.backend
    server = None
    try:
        harness.make_catalogue(args.binary, work, uri, patients=args.patients)
        # The oracle pages through /query by skip, slow on a loaded FerretDB: a budget for it, not for the exports.
        server = harness.Server(args.binary, uri, work, extra=("--query-budget-ms", "60000"))
        series = check_exports(server, r, args.binary, uri, work)
        check_errors(server, r)
        check_compat(server, r, series)
    except Exception:
        if server is not None:
            print(server.tail())
        raise
    finally:
        if server is not None:
            server.stop()
        harness.drop_store(uri)
        harness.remove(work)
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
