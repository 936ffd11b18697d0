"""Shared pieces of the MongoDB end-to-end tests (faults_test.py, scale_out_test.py): one check runner, problem
lists, and the comparison of a catalogue with the catalogue of one clean ingest."""
import json
import time
import traceback

from bson import Int64, ObjectId

LEDGER_TIMESTAMPS = {"ingest_errors": {"first_seen", "last_seen"}}
TIMESTAMPS = {"created_at", "updated_at"}


class Results:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, fn, *args):
        started = time.monotonic()
        try:
            value = fn(*args)
        except Exception as error:  # noqa: BLE001 - one failed check, the others still run
            self.failed += 1
            detail = "".join(traceback.format_exception_only(type(error), error)).strip()
            if not isinstance(error, AssertionError):
                detail += "\n" + traceback.format_exc()
            print(f"FAIL {name} ({time.monotonic() - started:.1f}s): {detail}", flush=True)
            return None
        self.passed += 1
        print(f"PASS {name} ({time.monotonic() - started:.1f}s)", flush=True)
        return True if value is None else value


def require(condition, message):
    if not condition:
        raise AssertionError(message)


class Problems:
    """Collects every mismatch of a check (so one run shows them all), fails once at the end."""

    def __init__(self, limit=40):
        self.items = []
        self.limit = limit

    def add(self, message):
        self.items.append(message)

    def expect(self, condition, message):
        if not condition:
            self.add(message)

    def raise_if_any(self, what):
        if self.items:
            shown = "\n  ".join(self.items[:self.limit])
            more = f"\n  ... and {len(self.items) - self.limit} more" if len(self.items) > self.limit else ""
            raise AssertionError(f"{len(self.items)} {what}:\n  {shown}{more}")


def short(text, limit=1500):
    text = (text or "").strip()
    return text if len(text) <= limit else "..." + text[-limit:]


def summary_of(proc):
    lines = [line for line in proc.stdout.strip().splitlines() if line.startswith("{")]
    require(lines, f"no JSON summary on stdout: {short(proc.stdout)}")
    return json.loads(lines[-1])


def strip(value, keys):
    if isinstance(value, dict):
        return {k: strip(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [strip(v, keys) for v in value]
    return value


def remap(value, id_map):
    if isinstance(value, ObjectId) and value in id_map:
        return id_map[value]
    if isinstance(value, dict):
        return {k: remap(v, id_map) for k, v in value.items()}
    if isinstance(value, list):
        return [remap(v, id_map) for v in value]
    return value


def same_type(a, b):
    """BSON int32 and int64 of one value count as the same here: which of the two an integer is stored as is checked
    on its own (check_int32), so that a type drift does not hide whether the documents converged."""
    if isinstance(a, int) and isinstance(b, int) and not isinstance(a, bool) and not isinstance(b, bool):
        return True
    return type(a) is type(b)


def ordered_equal(a, b):
    """Equal values with equal field order at every level."""
    if isinstance(a, dict) and isinstance(b, dict):
        return list(a) == list(b) and all(ordered_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(ordered_equal(x, y) for x, y in zip(a, b))
    return a == b and same_type(a, b)


def small_int64_paths(db, kinds=("studies", "series", "instances", "collections", "researchers", "jobs")):
    """{kind: {path: number of documents}} of integers stored as BSON int64 although they fit in 32 bits."""
    found = {}

    def walk(value, path, paths):
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{path}.{k}" if path else k, paths)
        elif isinstance(value, list):
            for v in value:
                walk(v, f"{path}[]", paths)
        elif isinstance(value, Int64) and -2 ** 31 <= value < 2 ** 31:
            paths.add(path)

    for kind in kinds:
        for doc in db[kind].find():
            paths = set()
            walk(doc, "", paths)
            for path in paths:
                found.setdefault(kind, {}).setdefault(path, []).append(str(doc["_id"]))
    return found


def check_int32(db):
    """docs/mongodb.md: integers are int32, int64 only past 2^31 - whichever way the document was written."""
    found = small_int64_paths(db)
    problems = Problems()
    for kind, paths in sorted(found.items()):
        for path, ids in sorted(paths.items()):
            problems.add(f"{db.name}.{kind}.{path}: int64 for a 32-bit value in {len(ids)} of "
                         f"{db[kind].count_documents({})} documents, e.g. {ids[:2]}")
    problems.raise_if_any("integer fields stored as int64 although they fit in int32")


def case_set(collection_doc):
    return {(c.get("case_id"), c.get("patient_id"), tuple(sorted(c.get("accession_numbers", []))))
            for c in collection_doc.get("cases", [])}
