#!/usr/bin/env python3
"""POST /nl/translate on a real `meta_db serve` over a synth catalogue (40 patients): every question of
questions.json must give the expected endpoint, name exactly the expected words as not understood, and its request
must select the same documents as the expected request (both run on the server; `exact` cases, whose fields the
synth catalogue lacks, are compared as written); the answer's count must be the expected request's total. The
refused questions must be 400s. Environment: META_DB_BIN (the binary)."""
import json
import os
import sys
import tempfile
import subprocess
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from serve_process import ServeProcess  # noqa: E402

BIN = os.environ["META_DB_BIN"]
HERE = os.path.dirname(os.path.abspath(__file__))


def post(port, path, body):
    data = json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data,
                                 headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def call(port, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data,
                                 headers={"Content-Type": "application/json"}, method=method)
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def vocabulary_follows_writes(port):
    """The grammar's cached vocabulary is rebuilt after a write through the API: a manufacturer written by PATCH is
    recognised by the next question (docs/nl.md), without waiting for the cache's 30 s age limit."""
    question = {"question": "series from Zebravision scanners"}
    status, before = post(port, "/nl/translate", question)
    if status != 200 or before["not_understood"] != ["Zebravision"]:
        return [f"before the write: HTTP {status} {before}"]
    series = call(port, "GET", "/series?limit=1")["results"][0]
    metadata = dict(series.get("metadata", {}), Manufacturer="ZEBRAVISION")
    call(port, "PATCH", f"/series/{series['_id']}", {"metadata": metadata})
    status, after = post(port, "/nl/translate", question)
    if status != 200 or after["not_understood"] != [] or after["count"] != 1 or \
            after["request"].get("filter") != {"metadata.Manufacturer": "ZEBRAVISION"}:
        return [f"after the write: HTTP {status} {after}"]
    return []


def run(port, endpoint, request):
    """The ids the request selects (every page) and its total."""
    body = dict(request)
    body["limit"] = 1000
    body["projection"] = {"_id": 1}
    status, answer = post(port, endpoint, body)
    assert status == 200, (endpoint, request, answer)
    return sorted(d["_id"] for d in answer["results"]), answer["total"], answer.get("counts", {}).get("patients")


def main():
    cases = json.load(open(os.path.join(HERE, "questions.json")))
    with tempfile.TemporaryDirectory(prefix="nl_test_") as tmp:
        archive, db = os.path.join(tmp, "archive"), "sqlite:" + os.path.join(tmp, "catalogue.sqlite")
        subprocess.run([BIN, "synth", "--patients", "40", "--out", archive, "--small"], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run([BIN, "ingest", archive, "--db", db, "--quiet"], check=True, stdout=subprocess.DEVNULL)
        server = ServeProcess(BIN, db)
        failures, non_empty, patient_questions = [], 0, 0
        try:
            port = server.port
            for case in cases["cases"]:
                question = case["question"]
                status, answer = post(port, "/nl/translate", {"question": question})
                if status != 200:
                    failures.append(f"{question!r}: HTTP {status} {answer}")
                    continue
                problems = []
                if answer["endpoint"] != case["endpoint"]:
                    problems.append(f"endpoint {answer['endpoint']} != {case['endpoint']}")
                if answer["not_understood"] != case["not_understood"]:
                    problems.append(f"not_understood {answer['not_understood']} != {case['not_understood']}")
                if case["exact"]:
                    if answer["request"] != case["request"]:
                        problems.append(f"request {answer['request']} != {case['request']}")
                elif not problems:
                    got, _, _ = run(port, answer["endpoint"], answer["request"])
                    want, want_total, want_patients = run(port, case["endpoint"], case["request"])
                    non_empty += 1 if want else 0
                    if got != want:
                        problems.append(f"{len(got)} results != expected {len(want)}; request {answer['request']}")
                    # A question asking for patients is counted by patient; any other by what its request returns.
                    returned = answer["request"].get("return", answer["request"].get("collection"))
                    if answer["count_of"] == "patients":
                        patient_questions += 1
                        if answer["endpoint"] != "/cohort" or answer["count"] != want_patients:
                            problems.append(f"patients count {answer['count']} != expected {want_patients}")
                    elif answer["count_of"] != returned or answer["count"] != want_total:
                        problems.append(f"count {answer['count']} of {answer['count_of']} != expected total "
                                        f"{want_total} of {returned}")
                if problems:
                    failures.append(f"{question!r}: " + "; ".join(problems))
            for question in cases["refused"]:
                status, answer = post(port, "/nl/translate", {"question": question})
                if status != 400:
                    failures.append(f"refused {question[:40]!r}: HTTP {status} {answer}")
            status, _ = post(port, "/nl/translate", {"question": "CT series", "extra": 1})
            if status != 400:
                failures.append(f"an unknown key: HTTP {status}")
            if patient_questions == 0:
                failures.append("no question was counted by patient")
            failures += vocabulary_follows_writes(port)  # last: it changes the catalogue
        finally:
            server.stop()
    total = len(cases["cases"])
    print(f"{total - len(failures)}/{total} translated as expected; {non_empty} with a non-empty expected result")
    for failure in failures:
        print("FAIL", failure)
    if total < 150:
        failures.append("fewer than 150 questions")
    if non_empty < 100:
        failures.append("too few questions select anything in the synth catalogue to prove their translation")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
