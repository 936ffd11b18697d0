#!/usr/bin/env python3
"""Property-based API test: schemathesis (pinned, from the venv scripts/bootstrap.sh makes) against the real
`meta_db serve` over an ingested synth archive, from the server's own /openapi.json: every operation, generated
inputs (examples, coverage, fuzzing, stateful phases; bounded by --max-examples and --max-time). Checks: no 5xx,
status codes, content types, headers and bodies as documented, and the stored catalogue unchanged by every
rejected write (schemathesis_hooks.py); afterwards `meta_db check` finds the catalogue consistent.

Environment: META_DB_BIN (the binary), META_DB_TEST_BACKEND=sqlite|mongodb with META_DB_TEST_MONGO_URI for
MongoDB (without it the MongoDB variant says so and ctest reports it skipped), META_DB_ST_EXAMPLES (examples per
operation, default 12), META_DB_ST_SEED."""
import json
import os
import pathlib
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

SCHEMATHESIS_VERSION = "4.32.5"
VENV = pathlib.Path(os.environ.get("META_DB_ST_VENV",
                                   pathlib.Path.home() / ".cache" / "meta_db" / f"schemathesis-{SCHEMATHESIS_VERSION}"))
HERE = pathlib.Path(__file__).resolve().parent
CHECKS = ["not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_headers_conformance", "response_schema_conformance", "catalogue_unchanged_by_rejection"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(base, proc, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"schemathesis_test: the server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(base + "/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    sys.exit("schemathesis_test: the server did not become healthy")


def main():
    meta_db = os.environ["META_DB_BIN"]
    st = VENV / "bin" / "schemathesis"
    if not st.exists():
        sys.exit(f"schemathesis_test: {st} missing: scripts/bootstrap.sh installs schemathesis=={SCHEMATHESIS_VERSION}")
    backend = os.environ.get("META_DB_TEST_BACKEND", "sqlite")
    with tempfile.TemporaryDirectory(prefix="meta_db_st.") as tmp:
        tmp = pathlib.Path(tmp)
        if backend == "mongodb":
            mongo = os.environ.get("META_DB_TEST_MONGO_URI")
            if not mongo:
                print("schemathesis_test: needs a MongoDB server: set META_DB_TEST_MONGO_URI")
                return 0
            base_uri, _, options = mongo.partition("?")
            hosts = base_uri[len("mongodb://"):].split("/", 1)[0]  # the server's database name is replaced
            db_uri = f"mongodb://{hosts}/meta_db_st_{os.getpid()}" + (("?" + options) if options else "")
        else:
            db_uri = f"sqlite:{tmp / 'catalogue.sqlite'}"
        subprocess.run([meta_db, "synth", "--patients", "2", "--out", str(tmp / "archive"), "--small"], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run([meta_db, "ingest", str(tmp / "archive"), "--db", db_uri], check=True, stdout=subprocess.DEVNULL)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([meta_db, "serve", "--db", db_uri, "--port", str(port)], stdout=subprocess.DEVNULL,
                                  stderr=open(tmp / "server.log", "wb"))
        violations = tmp / "violations.jsonl"
        try:
            wait_healthy(base, server)
            env = dict(os.environ, SCHEMATHESIS_HOOKS="schemathesis_hooks", PYTHONPATH=str(HERE),
                       META_DB_ST_DB=db_uri, META_DB_ST_VIOLATIONS=str(violations))
            examples = os.environ.get("META_DB_ST_EXAMPLES", "12")
            tolerated = tmp / "tolerated.jsonl"
            env["META_DB_ST_TOLERATED"] = str(tolerated)
            checks = CHECKS if backend == "sqlite" else \
                ["not_a_server_error_but_ferretdb_decoding" if c == "not_a_server_error" else c for c in CHECKS]
            cmd = [str(st), "run", base + "/openapi.json", "--checks", ",".join(checks), "--workers", "1",
                   "--max-examples", examples, "--seed", os.environ.get("META_DB_ST_SEED", "20261203"),
                   "--phases", "examples,coverage,fuzzing,stateful", "--max-time", "150",
                   "--request-timeout", "10", "--suppress-health-check", "all", "--no-color",
                   "--report", "junit", "--report-dir", str(tmp / "report")]
            started = time.monotonic()
            run = subprocess.run(cmd, env=env, cwd=tmp)
            print(f"schemathesis_test: {backend}: schemathesis exited {run.returncode} after "
                  f"{time.monotonic() - started:.0f} s")
            if tolerated.exists():
                print(f"schemathesis_test: {backend}: {len(tolerated.read_text().splitlines())} answers were FerretDB "
                      "failing to decode a document it had stored (its defect, tolerated on FerretDB only)")
        finally:
            server.terminate()
            server.wait(timeout=30)
        if server.returncode not in (0, -15):
            print((tmp / "server.log").read_text()[-4000:])
            sys.exit(f"schemathesis_test: the server exited with {server.returncode}")
        failed = run.returncode != 0
        if violations.exists():
            print("rejected writes that changed the catalogue:\n" + violations.read_text())
            failed = True
        check = subprocess.run([meta_db, "check", "--db", db_uri], capture_output=True, text=True)
        ferretdb_unreadable = backend == "mongodb" and check.returncode != 0 and \
            ("sjson.go" in check.stderr or "handleMaxTimeMSError" in check.stderr)
        if ferretdb_unreadable:
            # FerretDB cannot read back a document it stored (schemathesis_hooks.py, FERRETDB_DECODE_DEFECT): check
            # cannot read that collection either; nothing of meta_db's to judge there.
            print("schemathesis_test: mongodb: meta_db check could not read a collection FerretDB cannot decode "
                  "(its defect): " + check.stderr[-300:])
        elif check.returncode != 0:
            print(check.stdout[-4000:], check.stderr[-4000:])
            failed = True
        if backend == "mongodb":
            import pymongo
            client = pymongo.MongoClient(db_uri)
            client.drop_database(client.get_default_database().name)
            client.close()
        if failed:
            sys.exit("schemathesis_test: FAILED")
        print("schemathesis_test: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
