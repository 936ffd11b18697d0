#!/usr/bin/env python3
"""Writes the run-time seeds of one fuzz target into OUT: make_seeds.py NAME OUT.

Filters and POST /query bodies from every conformance case (tests/query/cases); for the DICOM targets the files of a
one-patient synth archive when META_DB_BIN names a meta_db binary (pydicom's test files are passed as a folder)."""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
CASES = HERE.parent / "query" / "cases"


def cases():
    for path in sorted(CASES.glob("*.json")):
        doc = json.loads(path.read_text())
        for case in doc.get("cases", []):
            yield doc.get("collection", "series"), case


def write(out, index, text):
    (out / f"seed_{index:04d}").write_bytes(text.encode() if isinstance(text, str) else text)


def query_bodies():
    for collection, case in cases():
        body = {k: case[k] for k in ("filter", "sort", "skip", "limit", "projection") if k in case}
        body.setdefault("filter", {})
        yield collection, case.get("filter", {}), body


def main():
    name, out = sys.argv[1], pathlib.Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    i = 0
    if name in ("filter_parse", "sql_translate", "bson_translate"):
        for _, filt, body in query_bodies():
            write(out, i, json.dumps(filt)); i += 1
            write(out, i, json.dumps(body)); i += 1
    elif name == "api_body":
        for collection, _, body in query_bodies():
            write(out, i, "POST /query\n" + json.dumps(dict(body, collection=collection))); i += 1
    elif name in ("fast_header", "dicom_extract") and os.environ.get("META_DB_BIN"):
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run([os.environ["META_DB_BIN"], "synth", "--patients", "1", "--out", tmp, "--small"],
                           check=True, stdout=subprocess.DEVNULL)
            files = sorted(p for p in pathlib.Path(tmp).rglob("*") if p.is_file())
            for p in files[:: max(1, len(files) // 20)]:
                shutil.copy(p, out / f"synth_{i:04d}{p.suffix}"); i += 1


if __name__ == "__main__":
    main()
