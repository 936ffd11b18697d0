#!/usr/bin/env python3
"""Wire-level test of the MongoDB back-end: the real `meta_db` binary against a scripted MockupDB server.

FerretDB (the server the other MongoDB tests use) accepts and answers too much to show what a real MongoDB needs, so
this test runs `meta_db ingest`, `meta_db serve` and `meta_db stats` against a MockupDB on 127.0.0.1 that logs every
command it receives and answers it from a small in-memory document store (enough of MongoDB's matching, sorting,
updates, unique indexes and count to let ingest and the API work for real), and asserts:

- the index commands: `createIndexes` of every unique business key with `unique: true` and the partial filter
  `{<key>: {$gte: ""}}` (and the `sparse: true` fallback when a server rejects partial indexes), the
  children-in-order compound indexes, the text index `{_search_text: "text"}` on series, the index marker;
- write concern: `{w: "majority"}` on every write by default, the URI's `w=1` / `wtimeoutMS` honoured, `w=0` and
  misspelt options refused before any write;
- retryable writes: against a replica-set member every write carries `lsid` + `txnNumber` (libmongoc adds them only
  for non-standalone servers, so the mock answers `hello` as a primary with a `setName` for this), a
  `RetryableWriteError` is retried by the driver with the same `txnNumber`, and `retryWrites=false` turns them off;
  against a standalone no `txnNumber` is sent (observable: the store's own retry);
- `maxTimeMS` (= `--query-budget-ms`) on the find and the count of `GET /series`, MaxTimeMSExpired (50) -> HTTP 504;
- error replies: a duplicate key (11000) answering an API create's insert -> HTTP 409; NotWritablePrimary (10107) and
  a closed connection -> retried and converging (nothing lost, nothing duplicated), or, when they persist, ingest
  exits non-zero with a one-line reason and its ledger never vouches for documents the server did not take; a
  writeConcernError is a failure, a transient one (ShutdownInProgress) is retried;
- what only a real MongoDB's planner and concurrent writers show: lookups by a unique key must be able to use its
  partial index (the planner's implication rule, mirrored here), a duplicate key met by a retry after a lost reply is
  a conflict, not a success, and two ingests (shards) racing on the `--collection` keep one collection and every case.
- the handshake names the application (`meta_db`, or the URI's appname).

Usage: wire_test.py [--binary build/meta_db] [-k PATTERN] [--print-sequence]   (env META_DB_BIN also names the binary)
Prints one line per test and finally "N passed, N failed". Needs Debian's python3-mockupdb and python3-pymongo (bson).
Every wait is bounded (<= 20 s).
"""
import argparse
import copy
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
import unittest
import urllib.error
import urllib.request

try:
    from bson import Int64, ObjectId, json_util
    from mockupdb import MockupDB, OpMsg
except ImportError as error:  # pragma: no cover - the environment is broken, not the product
    print(f"wire_test: needs Debian's python3-mockupdb and python3-pymongo: {error}", file=sys.stderr)
    print("0 passed, 1 failed")
    sys.exit(1)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from serve_process import ServeProcess  # noqa: E402

WAIT = 20  # seconds: the bound of every wait in this file
BINARY = None
ARCHIVE = None
MANIFEST = None
TMP = None

# ------------------------------------------------------------------------------------------------------------------
# A small in-memory MongoDB behind MockupDB


class Unsupported(Exception):
    """A query/update feature the fake does not implement: the test fails loudly instead of answering wrongly."""


def _rank(value):
    # BSON comparison order (numbers < strings < objects < arrays < ObjectId < bool < date).
    if value is None:
        return 1
    if isinstance(value, bool):
        return 8
    if isinstance(value, (int, float)):
        return 2
    if isinstance(value, str):
        return 3
    if isinstance(value, dict):
        return 4
    if isinstance(value, list):
        return 5
    if isinstance(value, bytes):
        return 6
    if isinstance(value, ObjectId):
        return 7
    if isinstance(value, datetime.datetime):
        return 9
    return 10


def _sort_key(value):
    rank = _rank(value)
    if rank == 1:
        return (1, 0)
    if rank in (4, 5):
        return (rank, json_util.dumps(value))
    if rank == 7:
        return (7, str(value))
    return (rank, value)


def _values(doc, path):
    """Every value `path` reaches in `doc`, descending into arrays as MongoDB does (missing: [])."""
    parts = path.split(".")

    def walk(value, i):
        if i == len(parts):
            return [value]
        if isinstance(value, dict):
            return walk(value[parts[i]], i + 1) if parts[i] in value else []
        if isinstance(value, list):
            out = []
            if parts[i].isdigit() and int(parts[i]) < len(value):
                out += walk(value[int(parts[i])], i + 1)
            for element in value:
                if isinstance(element, dict):
                    out += walk(element, i)
            return out
        return []

    return walk(doc, 0)


def _expand(values):
    out = []
    for value in values:
        out.append(value)
        if isinstance(value, list):
            out.extend(value)
    return out


def _eq(a, b):
    return _rank(a) == _rank(b) and a == b


def _cmp(a, b, op):
    if _rank(a) != _rank(b) or _rank(a) in (1, 4, 5):
        return False
    return {"$gt": a > b, "$gte": a >= b, "$lt": a < b, "$lte": a <= b}[op]


def _match_operators(values, ops):
    expanded = _expand(values)
    for op, arg in ops.items():
        if op == "$eq":
            ok = any(_eq(v, arg) for v in expanded) or (arg is None and not values)
        elif op == "$ne":
            ok = not (any(_eq(v, arg) for v in expanded) or (arg is None and not values))
        elif op in ("$gt", "$gte", "$lt", "$lte"):
            ok = any(_cmp(v, arg, op) for v in expanded)
        elif op == "$in":
            ok = any(any(_eq(v, a) for v in expanded) or (a is None and not values) for a in arg)
        elif op == "$nin":
            ok = not any(any(_eq(v, a) for v in expanded) or (a is None and not values) for a in arg)
        elif op == "$exists":
            ok = bool(values) == bool(arg)
        elif op == "$type":
            if arg not in ("string", 2):
                raise Unsupported(f"$type {arg!r}")
            ok = any(isinstance(v, str) for v in expanded)
        elif op == "$regex":
            flags = re.IGNORECASE if "i" in ops.get("$options", "") else 0
            pattern = arg.pattern if hasattr(arg, "pattern") else arg
            ok = any(isinstance(v, str) and re.search(pattern, v, flags) for v in expanded)
        elif op == "$options":
            continue
        elif op == "$size":
            ok = any(isinstance(v, list) and len(v) == arg for v in values)
        elif op == "$all":
            ok = all(any(_eq(v, a) for v in expanded) for a in arg)
        elif op == "$not":
            ok = not _match_operators(values, arg)
        elif op == "$elemMatch":
            elements = [e for v in values if isinstance(v, list) for e in v]
            if all(k.startswith("$") for k in arg):
                ok = any(_match_operators([e], arg) for e in elements)
            else:
                ok = any(isinstance(e, dict) and matches(e, arg) for e in elements)
        else:
            raise Unsupported(f"query operator {op}")
        if not ok:
            return False
    return True


def matches(doc, query):
    for key, condition in query.items():
        if key == "$and":
            ok = all(matches(doc, q) for q in condition)
        elif key == "$or":
            ok = any(matches(doc, q) for q in condition)
        elif key == "$nor":
            ok = not any(matches(doc, q) for q in condition)
        elif key.startswith("$"):
            raise Unsupported(f"top-level operator {key}")
        elif isinstance(condition, dict) and condition and all(k.startswith("$") for k in condition):
            ok = _match_operators(_values(doc, key), condition)
        else:
            ok = _match_operators(_values(doc, key), {"$eq": condition})
        if not ok:
            return False
    return True


def _set_path(doc, path, value):
    parts = path.split(".")
    for part in parts[:-1]:
        doc = doc.setdefault(part, {})
    doc[parts[-1]] = value


def _unset_path(doc, path):
    parts = path.split(".")
    for part in parts[:-1]:
        doc = doc.get(part, {})
    doc.pop(parts[-1], None)


def apply_update(doc, update, inserting):
    if not any(k.startswith("$") for k in update):  # a replacement keeps the _id
        new = {"_id": doc["_id"]} if "_id" in doc else {}
        new.update(copy.deepcopy(update))
        return new
    new = copy.deepcopy(doc)
    for op, fields in update.items():
        for path, value in fields.items():
            if op == "$set":
                _set_path(new, path, copy.deepcopy(value))
            elif op == "$setOnInsert":
                if inserting:
                    _set_path(new, path, copy.deepcopy(value))
            elif op == "$unset":
                _unset_path(new, path)
            elif op == "$inc":
                _set_path(new, path, (_values(new, path) or [0])[0] + value)
            elif op in ("$addToSet", "$push"):
                current = list((_values(new, path) or [[]])[0])
                items = value["$each"] if isinstance(value, dict) and "$each" in value else [value]
                for item in items:
                    if op == "$push" or not any(_eq(item, c) for c in current):
                        current.append(item)
                _set_path(new, path, current)
            elif op == "$pull":
                current = (_values(new, path) or [[]])[0]
                _set_path(new, path, [c for c in current if not _eq(c, value)])
            else:
                raise Unsupported(f"update operator {op}")
    return new


def project(doc, projection):
    if not projection:
        return doc
    include = [k for k, v in projection.items() if v and k != "_id"]
    if any("." in k for k in projection):
        raise Unsupported("dotted projection")
    if include or (projection.get("_id") and all(v for v in projection.values())):
        out = {k: doc[k] for k in include if k in doc}
        if projection.get("_id", 1) and "_id" in doc:
            out = {"_id": doc["_id"], **out}
        return out
    return {k: v for k, v in doc.items() if k not in projection}


def sort_docs(docs, sort):
    for key, direction in reversed(list((sort or {}).items())):
        if not isinstance(direction, int):
            raise Unsupported(f"sort {key}: {direction!r}")
        docs.sort(key=lambda d: min((_sort_key(v) for v in _expand(_values(d, key))), default=(1, 0)),
                  reverse=direction < 0)
    return docs


WRITE_COMMANDS = {"insert", "update", "delete", "findAndModify", "createIndexes", "dropIndexes", "drop",
                  "dropDatabase", "create"}
QUIET_COMMANDS = {"hello", "ismaster", "isMaster", "ping", "buildInfo", "buildinfo", "endSessions",
                  "killCursors", "getLastError", "saslStart", "saslContinue"}


class FakeMongo:
    """MockupDB that logs every request and answers it from memory; `fault()` scripts error replies."""

    def __init__(self, replset=False):
        self.replset = replset
        self.server = MockupDB(request_timeout=WAIT)
        self.lock = threading.RLock()
        self.log = []        # (seconds since start, client port, command name, request document)
        self.data = {}       # "db.collection" -> list of documents
        self.indexes = {}    # "db.collection" -> {name: spec}
        self.problems = []   # features the fake had to refuse: a test that sees one fails
        self.faults = []     # [predicate, action, remaining]
        self.queue_when = None  # predicate: such requests go to MockupDB's queue for receives()
        self.server.autoresponds(self._handle)
        self.port = self.server.run()
        self.address = f"127.0.0.1:{self.port}"
        self.started = time.monotonic()

    def uri(self, database="wiredb", options=""):
        return f"mongodb://127.0.0.1:{self.port}/{database}" + (f"?{options}" if options else "")

    def stop(self):
        self.server.stop()

    # -- scripting ---------------------------------------------------------------------------------------------
    def fault(self, predicate, action, times=1):
        """The next `times` requests matching `predicate(name, doc)` get `action`: "hangup", "apply+hangup" (do the
        write, then close the connection before the reply), a reply document, or a callable
        `action(fake, request, name, doc)` that answers the request itself and returns True."""
        entry = [predicate, action, times]
        with self.lock:
            self.faults.append(entry)
        return entry

    def commands(self, *names, ns=None):
        with self.lock:
            return [doc for (_, _, name, doc) in self.log
                    if (not names or name in names) and (ns is None or doc.get(name) == ns)]

    def docs(self, collection, database="wiredb"):
        with self.lock:
            return copy.deepcopy(self.data.get(f"{database}.{collection}", []))

    def seed_catalogue(self, database="wiredb"):
        """The marker an earlier ingest leaves in meta_db_info: `serve` and `stats` refuse a database without one."""
        with self.lock:
            self.data.setdefault(f"{database}.meta_db_info", []).append(
                {"_id": "indexes", "version": 4, "text_index": True})

    def sequence(self):
        """The command sequence, one line per request, for diagnostics and the report."""
        lines = []
        with self.lock:
            for t, port, name, doc in self.log:
                target = doc.get(name)
                extra = ""
                for key in ("documents", "updates", "deletes"):
                    if key in doc:
                        extra += f" {key}={len(doc[key])}"
                for key in ("writeConcern", "maxTimeMS", "txnNumber"):
                    if key in doc:
                        extra += f" {key}={json_util.dumps(doc[key])}"
                if name in ("find", "aggregate", "delete", "update", "createIndexes"):
                    body = {k: doc[k] for k in ("filter", "indexes", "pipeline") if k in doc}
                    if body:
                        extra += " " + json_util.dumps(body)[:160]
                lines.append(f"{t:7.3f}s :{port} {name} {target if isinstance(target, str) else ''}{extra}")
        return "\n".join(lines)

    # -- the server --------------------------------------------------------------------------------------------
    def _hello(self):
        reply = {"ismaster": True, "isWritablePrimary": True, "helloOk": True, "maxWireVersion": 21,
                 "minWireVersion": 0, "maxBsonObjectSize": 16 * 1024 * 1024, "maxMessageSizeBytes": 48000000,
                 "maxWriteBatchSize": 100000, "localTime": datetime.datetime.now(datetime.timezone.utc),
                 "logicalSessionTimeoutMinutes": 30, "connectionId": 1, "readOnly": False}
        if self.replset:
            reply.update({"setName": "rs0", "setVersion": 1, "secondary": False, "hosts": [self.address],
                          "primary": self.address, "me": self.address,
                          "electionId": ObjectId("7fffffff0000000000000001")})
        return reply

    def _handle(self, request):
        name = request.command_name
        doc = request.doc
        with self.lock:
            self.log.append((time.monotonic() - self.started, request.client_port, name, doc))
            if name in ("hello", "ismaster", "isMaster"):
                return request.ok(self._hello())
            if self.queue_when is not None and self.queue_when(name, doc):
                return False  # the test answers it through MockupDB.receives()
            for entry in self.faults:
                predicate, action, remaining = entry
                if remaining > 0 and predicate(name, doc):
                    entry[2] -= 1
                    if callable(action):
                        return action(self, request, name, doc)
                    if action == "hangup":
                        return request.hangup()
                    if action == "apply+hangup":
                        self._answer(name, doc)
                        return request.hangup()
                    return request.replies(action)
            try:
                return request.replies(self._answer(name, doc))
            except Unsupported as error:
                self.problems.append(f"{name}: {error}")
                return request.replies({"ok": 0, "code": 2, "codeName": "BadValue", "errmsg": f"fake: {error}"})

    def _answer(self, name, doc):
        db = doc.get("$db", "admin")
        ns = f"{db}.{doc.get(name)}" if isinstance(doc.get(name), str) else None
        if name in ("ping", "endSessions", "killCursors", "getLastError"):
            return {"ok": 1}
        if name in ("buildInfo", "buildinfo"):
            return {"ok": 1, "version": "7.0.0", "versionArray": [7, 0, 0, 0], "maxBsonObjectSize": 16777216}
        if name == "createIndexes":
            return self._create_indexes(ns, doc)
        if name == "find":
            docs = [d for d in self.data.get(ns, []) if matches(d, doc.get("filter", {}))]
            sort_docs(docs, doc.get("sort"))
            docs = docs[doc.get("skip", 0):]
            limit = abs(doc.get("limit", 0))
            if limit:
                docs = docs[:limit]
            docs = [project(copy.deepcopy(d), doc.get("projection")) for d in docs]
            return {"ok": 1, "cursor": {"id": Int64(0), "ns": ns, "firstBatch": docs}}
        if name == "aggregate":
            return {"ok": 1, "cursor": {"id": Int64(0), "ns": ns, "firstBatch": self._aggregate(ns, doc["pipeline"])}}
        if name == "count":
            return {"ok": 1, "n": sum(1 for d in self.data.get(ns, []) if matches(d, doc.get("query") or {}))}
        if name == "insert":
            return self._insert(ns, doc)
        if name == "update":
            return self._update(ns, doc)
        if name == "delete":
            return self._delete(ns, doc)
        if name == "listIndexes":
            specs = [{"v": 2, "key": {"_id": 1}, "name": "_id_"}] + list(self.indexes.get(ns, {}).values())
            return {"ok": 1, "cursor": {"id": Int64(0), "ns": ns, "firstBatch": specs}}
        if name == "listCollections":
            names = sorted({k.split(".", 1)[1] for k in self.data if k.startswith(db + ".")})
            return {"ok": 1, "cursor": {"id": Int64(0), "ns": f"{db}.$cmd.listCollections",
                                        "firstBatch": [{"name": n, "type": "collection"} for n in names]}}
        raise Unsupported(f"command {name}")

    def _create_indexes(self, ns, doc):
        existing = self.indexes.setdefault(ns, {})
        before = len(existing) + 1
        for spec in doc["indexes"]:
            spec = {k: v for k, v in spec.items()}
            old = existing.get(spec["name"])
            if old is not None and old != spec:
                return {"ok": 0, "code": 86, "codeName": "IndexKeySpecsConflict",
                        "errmsg": f"An existing index has the same name as the requested index: {spec['name']}"}
            existing[spec["name"]] = spec
        return {"ok": 1, "numIndexesBefore": before, "numIndexesAfter": len(existing) + 1,
                "createdCollectionAutomatically": before == 1}

    def _aggregate(self, ns, pipeline):
        docs = list(self.data.get(ns, []))
        for stage in pipeline:
            (op, arg), = stage.items()
            if op == "$match":
                docs = [d for d in docs if matches(d, arg)]
            elif op == "$skip":
                docs = docs[arg:]
            elif op == "$limit":
                docs = docs[:arg]
            elif op == "$sort":
                docs = sort_docs(list(docs), arg)
            elif op == "$group" and set(arg) == {"_id", "n"} and arg["n"] == {"$sum": 1} and \
                    not (isinstance(arg["_id"], str) and arg["_id"].startswith("$")):
                docs = [{"_id": arg["_id"], "n": len(docs)}] if docs else []
            else:
                raise Unsupported(f"aggregation stage {json_util.dumps(stage)[:80]}")
        return docs

    def _unique_violation(self, ns, candidate, ignore_id):
        for spec in [{"name": "_id_", "key": {"_id": 1}, "unique": True}] + list(self.indexes.get(ns, {}).values()):
            if not spec.get("unique"):
                continue
            (field,) = list(spec["key"])  # the store's unique indexes have one key
            value = candidate.get(field, None)
            partial = spec.get("partialFilterExpression")
            if partial is not None and not matches(candidate, partial):
                continue
            if spec.get("sparse") and field not in candidate:
                continue
            for other in self.data.get(ns, []):
                if ignore_id is not None and _eq(other.get("_id"), ignore_id):
                    continue
                if partial is not None and not matches(other, partial):
                    continue
                if spec.get("sparse") and field not in other:
                    continue
                if _eq(other.get(field, None), value):
                    return {"code": 11000, "keyPattern": {field: 1}, "keyValue": {field: value},
                            "errmsg": f"E11000 duplicate key error collection: {ns} index: {spec['name']} "
                                      f"dup key: {{ {field}: {json_util.dumps(value)} }}"}
        return None

    def _insert(self, ns, doc):
        stored = self.data.setdefault(ns, [])
        n, errors = 0, []
        for index, document in enumerate(doc.get("documents", [])):
            document = dict(document)
            document.setdefault("_id", ObjectId())
            violation = self._unique_violation(ns, document, None)
            if violation:
                errors.append({"index": index, **violation})
                if doc.get("ordered", True):
                    break
                continue
            stored.append(copy.deepcopy(document))
            n += 1
        reply = {"ok": 1, "n": n}
        if errors:
            reply["writeErrors"] = errors
        return reply

    def _update(self, ns, doc):
        stored = self.data.setdefault(ns, [])
        n = modified = 0
        upserted, errors = [], []
        for index, update in enumerate(doc.get("updates", [])):
            targets = [d for d in stored if matches(d, update.get("q", {}))]
            if not update.get("multi"):
                targets = targets[:1]
            error = None
            if targets:
                for target in targets:
                    new = apply_update(target, update["u"], False)
                    error = self._unique_violation(ns, new, target["_id"])
                    if error:
                        break
                    n += 1
                    if new != target:
                        modified += 1
                        stored[stored.index(target)] = new
            elif update.get("upsert"):
                seed = {k: v for k, v in update.get("q", {}).items()
                        if not k.startswith("$") and not (isinstance(v, dict) and any(x.startswith("$") for x in v))}
                new = apply_update(seed, update["u"], True)
                if "_id" not in new:
                    new = {"_id": seed.get("_id", ObjectId()), **new}
                error = self._unique_violation(ns, new, None)
                if not error:
                    stored.append(new)
                    n += 1
                    upserted.append({"index": index, "_id": new["_id"]})
            if error:
                errors.append({"index": index, **error})
                if doc.get("ordered", True):
                    break
        reply = {"ok": 1, "n": n, "nModified": modified}
        if upserted:
            reply["upserted"] = upserted
        if errors:
            reply["writeErrors"] = errors
        return reply

    def _delete(self, ns, doc):
        stored = self.data.setdefault(ns, [])
        n = 0
        for delete in doc.get("deletes", []):
            targets = [d for d in stored if matches(d, delete.get("q", {}))]
            if delete.get("limit", 0) == 1:
                targets = targets[:1]
            for target in targets:
                stored.remove(target)
                n += 1
        return {"ok": 1, "n": n}


def _leaves(query, field):
    """The query's predicates on `field` that all must hold (top level and $and), as (operator, operand) pairs."""
    leaves = []
    for key, condition in query.items():
        if key == "$and":
            for clause in condition:
                leaves += _leaves(clause, field)
        elif key == field:
            if isinstance(condition, dict) and condition and all(k.startswith("$") for k in condition):
                leaves += list(condition.items())
            else:
                leaves.append(("$eq", condition))
    return leaves


def _leaf_implies(op, value, index_op, index_value):
    """Does the query leaf {op: value} match only documents that {index_op: index_value} matches?"""
    if index_op == "$exists":
        if not index_value:
            return False
        if op in ("$eq", "$gt", "$gte", "$lt", "$lte"):
            return value is not None
        if op == "$in":
            return all(v is not None for v in value)
        return op in ("$type", "$regex", "$exists", "$size", "$elemMatch")
    if index_op in ("$eq", "$gt", "$gte", "$lt", "$lte"):
        values = value if op == "$in" else [value]
        if op not in ("$eq", "$in"):
            return op == index_op and _eq(value, index_value)
        return all(_rank(v) == _rank(index_value) and _rank(v) not in (1, 4, 5) and
                   (_eq(v, index_value) if index_op == "$eq" else _cmp(v, index_value, index_op) or
                    (index_op in ("$gte", "$lte") and _eq(v, index_value))) for v in values)
    # $type and everything else: only an identical predicate in the query (MongoDB has no other rule).
    return op == index_op and _eq(value, index_value)


def planner_can_use(query, partial_filter):
    """MongoDB's rule for using a partial index (src/mongo/db/matcher/expression_algo.cpp, isSubsetOf), for the
    one-field filters of the store's unique indexes: every predicate of the partial filter must be implied by some
    predicate of the query."""
    for field, condition in partial_filter.items():
        ops = condition.items() if isinstance(condition, dict) and all(k.startswith("$") for k in condition) \
            else [("$eq", condition)]
        for index_op, index_value in ops:
            if not any(_leaf_implies(op, value, index_op, index_value) for op, value in _leaves(query, field)):
                return False
    return True


# ------------------------------------------------------------------------------------------------------------------
# Running the binary


def run_meta_db(*args, timeout=WAIT):
    started = time.monotonic()
    try:
        proc = subprocess.run([BINARY, *args], capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as error:
        raise AssertionError(f"meta_db {' '.join(args)} did not finish within {timeout}s: "
                             f"stderr={error.stderr!r}") from None
    proc.seconds = time.monotonic() - started
    return proc


def create_catalogue(uri):
    """An ingest of an empty archive: the catalogue (indexes, marker) that `serve` and `stats` need, and no documents."""
    with tempfile.TemporaryDirectory() as empty:
        proc = run_meta_db("ingest", empty, "--db", uri, "--quiet")
    if proc.returncode != 0:
        raise AssertionError(f"ingest of an empty archive exited {proc.returncode}: {proc.stderr[-2000:]}")


def ingest(uri, *extra, timeout=WAIT):
    return run_meta_db("ingest", ARCHIVE, "--db", uri, "--quiet", "--collection", "LIDC-IDRI", "--batch", "1000",
                       *extra, timeout=timeout)


class Serve(ServeProcess):
    """`meta_db serve --port 0` in the background; `request()` talks HTTP to it."""

    def __init__(self, uri, *extra):
        super().__init__(BINARY, uri, *extra, wait=WAIT)

    def request(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data, method=method,
                                     headers={"Content-Type": "application/json"} if data else {})
        try:
            with urllib.request.urlopen(req, timeout=WAIT) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            text = error.read()
            try:
                return error.code, json.loads(text)
            except ValueError:
                return error.code, text.decode(errors="replace")

        return self.proc.returncode


# ------------------------------------------------------------------------------------------------------------------
# Tests

UNIQUE_KEYS = {"researchers": "researcher_id", "collections": "name", "studies": "study_instance_uid",
               "series": "series_instance_uid", "instances": "sop_instance_uid"}
WRITES = ("insert", "update", "delete", "findAndModify", "createIndexes")


def is_insert_into(collection):
    return lambda name, doc: name == "insert" and doc.get("insert") == collection


def is_write_to(collection):
    return lambda name, doc: name in ("insert", "update", "delete") and doc.get(name) == collection


def ids_of(write):
    """The _ids a write command touches: inserted documents' or the updates' selectors'."""
    if "documents" in write:
        return [d["_id"] for d in write["documents"]]
    return [u["q"].get("_id") for u in write.get("updates", write.get("deletes", []))]


def one_line_reason(stderr):
    lines = [line for line in stderr.splitlines() if line.strip()]
    return lines[-1] if lines else ""


class WireTest(unittest.TestCase):
    replset = False

    def setUp(self):
        self.fake = FakeMongo(replset=self.replset)
        self.serve = None

    def tearDown(self):
        if self.serve is not None:
            self.serve.stop()
        self.fake.stop()
        problems = self.fake.problems
        if problems:
            self.fail("the fake server met requests it does not implement: " + "; ".join(problems))

    def diagnose(self, proc=None):
        text = ""
        if proc is not None:
            text += f"\nexit {proc.returncode}\nstderr: {proc.stderr[-3000:]}\nstdout: {proc.stdout[-1000:]}"
        if self.serve is not None:
            text += "\nserve: " + "".join(self.serve.output)[-3000:]
        lines = self.fake.sequence().splitlines()
        return text + "\ncommands (last 60):\n" + "\n".join(lines[-60:])

    def assert_ingested(self, proc):
        self.assertEqual(proc.returncode, 0, self.diagnose(proc))
        summary = json.loads(proc.stdout.strip().splitlines()[-1])
        self.assertEqual(summary["dicom_parsed"], MANIFEST["dicom_files"], proc.stdout)
        self.assert_catalogue_complete()
        return summary

    def assert_catalogue_complete(self):
        """What the fake holds is the archive's whole catalogue, once each, with the derived fields exact."""
        instances = self.fake.docs("instances")
        series = self.fake.docs("series")
        studies = self.fake.docs("studies")
        self.assertEqual(len(instances), MANIFEST["instances"], self.diagnose())
        self.assertEqual(len(series), MANIFEST["series"])
        self.assertEqual(len(studies), MANIFEST["studies"])
        self.assertEqual(len({d["sop_instance_uid"] for d in instances}), len(instances), "duplicate instances")
        for s in series:
            children = [i for i in instances if i["series_id"] == s["_id"]]
            self.assertEqual(s["num_instances"], len(children), s["series_instance_uid"])
            self.assertEqual(sorted(s["instances"], key=str), sorted((i["_id"] for i in children), key=str))
        files = self.fake.docs("ingest_files")
        self.assertEqual(len(files), MANIFEST["files_total"], "ledger records")

    def assert_ledger_vouches_only_for_stored(self):
        """Ledger records are written only after the documents they vouch for were acknowledged."""
        stored = {d["sop_instance_uid"] for d in self.fake.docs("instances")}
        for record in self.fake.docs("ingest_files"):
            if record.get("status") == "ok" and record.get("sop_instance_uid"):
                self.assertIn(record["sop_instance_uid"], stored, f"ledger vouches for a lost instance: {record}")


class IndexCommands(WireTest):
    def test_create_indexes_unique_partial_and_text(self):
        self.assert_ingested(ingest(self.fake.uri()))
        specs = {}
        commands = self.fake.commands("createIndexes")
        # One command per collection (plus the text index), not one per index: each is a round trip.
        self.assertLessEqual(len(commands), 8 + 1, [c["createIndexes"] for c in commands])
        for doc in commands:
            specs.setdefault(doc["createIndexes"], []).extend(doc["indexes"])
        for collection, key in UNIQUE_KEYS.items():
            unique = [s for s in specs.get(collection, []) if list(s["key"]) == [key]]
            self.assertTrue(unique, f"no createIndexes for {collection}.{key}: {specs.get(collection)}")
            spec = unique[0]
            self.assertIs(spec.get("unique"), True, spec)
            # A range over every string (not {$type: "string"}): MongoDB's planner proves an equality or $in lookup
            # inside a range, so the partial index serves ingest's and the API's lookups by UID.
            self.assertEqual(spec.get("partialFilterExpression"), {key: {"$gte": ""}}, spec)
            self.assertNotIn("sparse", spec, "partial and sparse together are rejected by MongoDB")
            self.assertEqual(len(unique), 1, f"{collection}.{key}: no fallback needed when partial is accepted")
            self.assertEqual(spec["key"][key], 1)
        self.assertEqual(dict(next(s for s in specs["series"] if "study_id" in s["key"])["key"]),
                         {"study_id": 1, "series_number": 1})
        self.assertEqual(list(next(s for s in specs["series"] if "study_id" in s["key"])["key"]),
                         ["study_id", "series_number"])
        self.assertEqual(list(next(s for s in specs["instances"] if "series_id" in s["key"])["key"]),
                         ["series_id", "instance_number"])
        # qc.flags (an array): one plain index, multikey on MongoDB, behind GET /series?qc_flag=...
        self.assertEqual([dict(s["key"]) for s in specs["series"] if "qc.flags" in s["key"]], [{"qc.flags": 1}])
        text = [s for s in specs["series"] if "_search_text" in s["key"]]
        self.assertEqual(len(text), 1, specs["series"])
        self.assertEqual(dict(text[0]["key"]), {"_search_text": "text"})
        # Every index command names its index, and the same name is never sent twice with other options.
        for collection, list_ in specs.items():
            names = [s["name"] for s in list_]
            self.assertEqual(len(names), len(set(names)), f"{collection}: {names}")
        marker = self.fake.docs("meta_db_info")
        self.assertEqual(marker, [{"_id": "indexes", "version": 4, "text_index": True}])
        # The marker comes after the last createIndexes: a crash in between only repeats them.
        order = [name for (_, _, name, doc) in self.fake.log if name == "createIndexes" or
                 (name == "update" and doc.get("update") == "meta_db_info")]
        self.assertEqual(order[-1], "update")
        # A second process only reads the marker.
        before = len(self.fake.commands("createIndexes"))
        proc = run_meta_db("stats", "--db", self.fake.uri())
        self.assertEqual(proc.returncode, 0, self.diagnose(proc))
        self.assertEqual(len(self.fake.commands("createIndexes")), before, "indexes re-created by a later process")
        counts = json.loads(proc.stdout)
        self.assertEqual((counts["studies"], counts["series"], counts["instances"]),
                         (MANIFEST["studies"], MANIFEST["series"], MANIFEST["instances"]))

    def test_fallbacks_when_partial_and_text_indexes_are_refused(self):
        # FerretDB-like: partialFilterExpression NotImplemented, text index refused.
        self.fake.fault(lambda n, d: n == "createIndexes" and any("partialFilterExpression" in i for i in d["indexes"]),
                        {"ok": 0, "code": 238, "codeName": "NotImplemented",
                         "errmsg": 'Index option "partialFilterExpression" is not implemented yet'}, times=100)
        self.fake.fault(lambda n, d: n == "createIndexes" and any("_search_text" in i["key"] for i in d["indexes"]),
                        {"ok": 0, "code": 67, "codeName": "CannotCreateIndex", "errmsg": "no text indexes"})
        self.assert_ingested(ingest(self.fake.uri()))
        for collection, key in UNIQUE_KEYS.items():
            final = self.fake.indexes[f"wiredb.{collection}"][f"ix_{key}"]
            self.assertIs(final.get("unique"), True)
            self.assertIs(final.get("sparse"), True, final)
            self.assertNotIn("partialFilterExpression", final)
        self.assertEqual(self.fake.docs("meta_db_info"), [{"_id": "indexes", "version": 4, "text_index": False}])


    def test_uid_lookups_can_use_the_unique_indexes(self):
        """A real MongoDB uses a partial index only for queries that imply its filter; {k: {$type: "string"}} is
        implied by nothing but the same $type predicate, so lookups by UID must carry it (or the index must use a
        filter the planner can prove, e.g. {k: {$gte: ""}}, which holds for exactly the string values too)."""
        self.assert_ingested(ingest(self.fake.uri()))
        self.serve = Serve(self.fake.uri())
        study = self.fake.docs("studies")[0]
        series = self.fake.docs("series")[0]
        instance = self.fake.docs("instances")[0]
        for path in (f"/studies/uid/{study['study_instance_uid']}", f"/series/uid/{series['series_instance_uid']}",
                     f"/instances/uid/{instance['sop_instance_uid']}",
                     f"/studies?study_instance_uid={study['study_instance_uid']}",
                     f"/series?series_instance_uid={series['series_instance_uid']}",
                     f"/instances?sop_instance_uid={instance['sop_instance_uid']}",
                     "/researchers?researcher_id=r12345", "/collections?name=LIDC-IDRI"):
            status, body = self.serve.request("GET", path)
            self.assertEqual(status, 200, f"{path}: {body}")
        unusable = []
        for collection, key in UNIQUE_KEYS.items():
            spec = self.fake.indexes[f"wiredb.{collection}"][f"ix_{key}"]
            partial = spec.get("partialFilterExpression")
            lookups = [(name, doc.get("filter", doc.get("pipeline", [{}])[0].get("$match", {})))
                       for (_, _, name, doc) in self.fake.log
                       if name in ("find", "aggregate") and doc.get(name) == collection]
            lookups = [(name, q) for name, q in lookups if _leaves(q, key) and
                       all(op in ("$eq", "$in") for op, _ in _leaves(q, key))]
            self.assertTrue(lookups, f"no lookup of {collection} by {key} was seen")
            if partial is None:
                continue  # a sparse unique index serves every equality on a string
            for name, query in lookups:
                if not planner_can_use(query, partial):
                    unusable.append(f"{name} {collection} {json_util.dumps(query)[:120]} vs partial "
                                    f"{json_util.dumps(partial)}")
        if unusable:
            self.fail(f"{len(unusable)} lookups by a unique key cannot use its partial index on a real MongoDB "
                      "(each is a COLLSCAN):\n" + "\n".join(unusable[:12]))


class Handshake(WireTest):
    def test_handshake_names_the_application_and_the_driver(self):
        self.fake.seed_catalogue()
        proc = run_meta_db("stats", "--db", self.fake.uri())
        self.assertEqual(proc.returncode, 0, self.diagnose(proc))
        hellos = [doc for (_, _, name, doc) in self.fake.log if name in ("hello", "isMaster", "ismaster")]
        self.assertTrue(hellos)
        first = hellos[0]
        self.assertEqual(first["client"]["application"]["name"], "meta_db")
        self.assertEqual(first["client"]["driver"]["name"], "mongoc")
        # An explicit appname in the URI wins.
        fake = FakeMongo()
        try:
            fake.seed_catalogue()
            self.assertEqual(run_meta_db("stats", "--db", fake.uri(options="appname=cohort-sync")).returncode, 0)
            first = next(doc for (_, _, name, doc) in fake.log if name in ("hello", "isMaster", "ismaster"))
            self.assertEqual(first["client"]["application"]["name"], "cohort-sync")
        finally:
            fake.stop()


class WriteConcern(WireTest):
    def assert_every_write(self, expected):
        writes = self.fake.commands(*WRITES)
        self.assertGreater(len(writes), 20, self.diagnose())
        kinds = {next(iter(d)) for d in writes}
        self.assertTrue({"insert", "update", "delete", "createIndexes"} <= kinds, kinds)
        for doc in writes:
            self.assertEqual(doc.get("writeConcern"), expected,
                             f"{next(iter(doc))} {doc.get(next(iter(doc)))}: writeConcern {doc.get('writeConcern')}")
        # Reads carry no write concern.
        for doc in self.fake.commands("find", "aggregate"):
            self.assertNotIn("writeConcern", doc)

    def test_majority_by_default(self):
        self.assert_ingested(ingest(self.fake.uri()))
        self.assert_every_write({"w": "majority"})

    def test_majority_by_default_in_api_writes(self):
        create_catalogue(self.fake.uri())
        self.serve = Serve(self.fake.uri())
        status, body = self.serve.request("POST", "/researchers", {"researcher_id": "r1", "name": "Dr. Alice Lee",
                                                                   "email": "alice@example.org"})
        self.assertEqual(status, 201, body)
        status, body = self.serve.request("POST", "/jobs", {"researcher_id": "r1", "name": "j1",
                                                            "accession_numbers": ["ACC1"]})
        self.assertEqual(status, 202, body)
        for doc in self.fake.commands("insert", "update", "delete"):
            self.assertEqual(doc.get("writeConcern"), {"w": "majority"}, doc)
        self.assertTrue(self.fake.commands("insert", ns="jobs"), self.diagnose())
        researcher = self.fake.docs("researchers")[0]
        self.assertEqual(researcher["jobs"], [self.fake.docs("jobs")[0]["_id"]])
        self.assertIsInstance(researcher["created_at"], datetime.datetime)

    def test_uri_w1_is_honoured(self):
        self.assert_ingested(ingest(self.fake.uri(options="w=1")))
        self.assert_every_write({"w": 1})

    def test_uri_wtimeout_is_kept_with_majority(self):
        self.assert_ingested(ingest(self.fake.uri(options="wtimeoutMS=5000")))
        writes = self.fake.commands(*WRITES)
        for doc in writes:
            self.assertEqual(doc.get("writeConcern", {}).get("w"), "majority", doc.get("writeConcern"))
            self.assertEqual(doc.get("writeConcern", {}).get("wtimeout"), 5000, doc.get("writeConcern"))

    def test_w0_and_misspelt_options_are_refused_before_any_write(self):
        for options, needle in (("w=0", "w=0"), ("retryWrite=true", "retrywrite")):
            proc = ingest(self.fake.uri(options=options))
            self.assertEqual(proc.returncode, 2, f"{options}: {self.diagnose(proc)}")
            reason = one_line_reason(proc.stderr)
            self.assertTrue(reason.startswith("meta_db: "), reason)
            self.assertIn(needle, reason.lower())
        self.assertEqual(self.fake.commands(*WRITES), [], "a refused URI still wrote")


    def test_write_concern_error_is_a_failure_not_a_success(self):
        # The primary applied the write but a majority did not confirm it in time: not an acknowledged write.
        def write_concern_error(fake, request, name, doc):
            reply = fake._answer(name, doc)
            reply["writeConcernError"] = {"code": 64, "codeName": "WriteConcernFailed", "errInfo": {"wtimeout": True},
                                          "errmsg": "waiting for replication timed out"}
            return request.replies(reply)

        self.fake.fault(is_write_to("instances"), write_concern_error, times=10 ** 6)
        proc = ingest(self.fake.uri())
        self.assertNotEqual(proc.returncode, 0, self.diagnose(proc))
        reason = one_line_reason(proc.stderr)
        self.assertRegex(reason, r"^meta_db: .*replication", self.diagnose(proc))
        self.assertEqual(self.fake.docs("ingest_files"), [], "the ledger vouches for writes a majority never confirmed")
        self.fake.faults.clear()
        self.assert_ingested(ingest(self.fake.uri()))

    def test_transient_write_concern_error_is_retried(self):
        def shutting_down(fake, request, name, doc):
            reply = fake._answer(name, doc)
            reply["writeConcernError"] = {"code": 91, "codeName": "ShutdownInProgress", "errmsg": "shutting down"}
            return request.replies(reply)

        self.fake.fault(is_write_to("instances"), shutting_down)
        proc = ingest(self.fake.uri())
        self.assert_ingested(proc)
        RetryableWritesStandalone.assert_retried_whole_batch(self, proc)


class RetryableWritesStandalone(WireTest):
    def test_standalone_gets_no_txn_number(self):
        # libmongoc adds lsid + txnNumber only for servers that support retryable writes (not a standalone).
        self.assert_ingested(ingest(self.fake.uri()))
        writes = self.fake.commands("insert", "update", "delete")
        self.assertTrue(writes)
        for doc in writes:
            self.assertNotIn("txnNumber", doc)
            self.assertIn("lsid", doc)  # implicit sessions still

    def test_not_writable_primary_once_is_retried(self):
        self.fake.fault(is_insert_into("instances"),
                        {"ok": 0, "code": 10107, "codeName": "NotWritablePrimary", "errmsg": "not primary"})
        proc = ingest(self.fake.uri())
        self.assert_ingested(proc)
        self.assert_retried_whole_batch(proc)

    def test_connection_closed_once_is_retried(self):
        self.fake.fault(is_insert_into("instances"), "hangup")
        proc = ingest(self.fake.uri())
        self.assert_ingested(proc)
        self.assert_retried_whole_batch(proc)

    def assert_retried_whole_batch(self, proc):
        # No retryable writes on a standalone: the store retries the batch itself (after a back-off), each op
        # idempotent, so the inserts that may have gone through come again as upserting replaces.
        # The retry's replaces go in commands of at most 20 updates (FerretDB stops answering bigger ones).
        writes = [d for d in self.fake.commands("insert", "update", ns="instances")]
        self.assertGreaterEqual(len(writes), 2, self.diagnose(proc))
        self.assertIn("insert", writes[0])
        # The retry: the update commands right after the failed insert (a later batch's inserts are not part of it).
        retry = []
        for write in writes[1:]:
            if "update" not in write:
                break
            retry.append(write)
        retried = [i for w in retry for i in ids_of(w)]
        self.assertEqual(sorted(map(str, ids_of(writes[0]))), sorted(map(str, retried)))
        for write in retry:
            self.assertIn("update", write)
            self.assertLessEqual(len(write["updates"]), 20)
            for update in write["updates"]:
                self.assertIs(update.get("upsert"), True, update)
                self.assertFalse(any(k.startswith("$") for k in update["u"]), "a retry must replace whole")

    def test_connection_closed_after_the_write_converges_without_duplicates(self):
        # The server applied the insert but the reply was lost: the retry meets its own documents as duplicates.
        self.fake.fault(is_insert_into("instances"), "apply+hangup")
        self.fake.fault(is_insert_into("series"), "apply+hangup")
        self.assert_ingested(ingest(self.fake.uri()))

    def test_persistent_not_writable_primary_fails_with_one_line_reason(self):
        self.fake.fault(is_write_to("instances"),
                        {"ok": 0, "code": 10107, "codeName": "NotWritablePrimary", "errmsg": "not primary"},
                        times=10 ** 6)
        proc = ingest(self.fake.uri())
        self.assertEqual(proc.returncode, 3, self.diagnose(proc))
        reason = one_line_reason(proc.stderr)
        self.assertRegex(reason, r"^meta_db: .*(instances|not primary)", self.diagnose(proc))
        self.assertNotIn("\n", reason)
        self.assertGreaterEqual(len(self.fake.commands("insert", "update", ns="instances")), 2, "never retried")
        self.assertLess(proc.seconds, WAIT)
        self.assert_ledger_vouches_only_for_stored()
        # Once the server takes writes again, a re-run converges to the full catalogue.
        self.fake.faults.clear()
        self.assert_ingested(ingest(self.fake.uri()))

    def test_persistent_connection_close_fails_with_one_line_reason(self):
        self.fake.fault(is_write_to("instances"), "hangup", times=10 ** 6)
        proc = ingest(self.fake.uri())
        self.assertEqual(proc.returncode, 3, self.diagnose(proc))
        reason = one_line_reason(proc.stderr)
        self.assertTrue(reason.startswith("meta_db: "), self.diagnose(proc))
        self.assertGreaterEqual(len(self.fake.commands("insert", "update", ns="instances")), 2, "never retried")
        self.assert_ledger_vouches_only_for_stored()
        self.fake.faults.clear()
        self.assert_ingested(ingest(self.fake.uri()))


class RetryableWritesReplicaSet(WireTest):
    replset = True

    def test_writes_carry_lsid_and_txn_number(self):
        self.assert_ingested(ingest(self.fake.uri()))
        writes = self.fake.commands("insert", "update", "delete")
        self.assertTrue(writes)
        for doc in writes:
            self.assertIn("lsid", doc, doc.get(next(iter(doc))))
            self.assertIn("txnNumber", doc, f"{next(iter(doc))} {doc.get(next(iter(doc)))}: not a retryable write")
        numbers = [(d["lsid"]["id"], d["txnNumber"]) for d in writes]
        self.assertEqual(len(numbers), len(set(numbers)), "a txnNumber reused for another write")

    def test_retry_writes_false_is_honoured(self):
        self.assert_ingested(ingest(self.fake.uri(options="retryWrites=false")))
        for doc in self.fake.commands("insert", "update", "delete"):
            self.assertNotIn("txnNumber", doc)

    def test_retryable_error_is_retried_by_the_driver_with_the_same_txn_number(self):
        self.fake.fault(is_insert_into("instances"),
                        {"ok": 0, "code": 10107, "codeName": "NotWritablePrimary", "errmsg": "not primary",
                         "errorLabels": ["RetryableWriteError"]})
        self.assert_ingested(ingest(self.fake.uri()))
        inserts = self.fake.commands("insert", ns="instances")
        # The driver's retry is the insert right after the failed one (later batches insert more).
        self.assertGreaterEqual(len(inserts), 2, self.diagnose())
        self.assertEqual(inserts[0]["txnNumber"], inserts[1]["txnNumber"])
        self.assertEqual(ids_of(inserts[0]), ids_of(inserts[1]))
        self.assertEqual(inserts[0]["lsid"], inserts[1]["lsid"])

    def test_network_close_is_retried_by_the_driver_with_the_same_txn_number(self):
        self.fake.fault(is_insert_into("instances"), "hangup")
        self.assert_ingested(ingest(self.fake.uri()))
        inserts = self.fake.commands("insert", ns="instances")
        # The driver's retry is the insert right after the failed one (later batches insert more).
        self.assertGreaterEqual(len(inserts), 2, self.diagnose())
        self.assertEqual(inserts[0]["txnNumber"], inserts[1]["txnNumber"])
        self.assertEqual(ids_of(inserts[0]), ids_of(inserts[1]))


class ServeQueries(WireTest):
    def setUp(self):
        super().setUp()
        self.assert_ingested(ingest(self.fake.uri()))

    def test_max_time_ms_from_query_budget(self):
        self.serve = Serve(self.fake.uri(), "--query-budget-ms", "1234")
        before = len(self.fake.log)
        status, body = self.serve.request("GET", "/series?modality=CT&limit=5")
        self.assertEqual(status, 200, body)
        self.assertEqual(body["total"], MANIFEST["modalities"]["CT"], body)
        self.assertEqual(len(body["results"]), min(5, MANIFEST["modalities"]["CT"]))
        issued = [doc for (_, _, name, doc) in self.fake.log[before:]
                  if name in ("find", "aggregate", "count") and doc.get(name) == "series"]
        finds = [d for d in issued if "find" in d]
        counts = [d for d in issued if "find" not in d]
        self.assertTrue(finds and counts, self.diagnose())
        for doc in finds + counts:
            self.assertEqual(doc.get("maxTimeMS"), 1234, json_util.dumps(doc)[:400])
        self.assertEqual(finds[-1].get("limit"), 5)

    def test_default_query_budget(self):
        self.serve = Serve(self.fake.uri())
        status, body = self.serve.request("GET", "/series?limit=1")
        self.assertEqual(status, 200, body)
        for doc in self.fake.commands("find", "aggregate", ns="series")[-2:]:
            self.assertEqual(doc.get("maxTimeMS"), 2000)

    def test_max_time_ms_expired_is_504(self):
        self.serve = Serve(self.fake.uri(), "--query-budget-ms", "100")
        self.fake.fault(lambda n, d: n == "find" and d.get("find") == "series" and "maxTimeMS" in d,
                        {"ok": 0, "code": 50, "codeName": "MaxTimeMSExpired",
                         "errmsg": "operation exceeded time limit"}, times=10)
        status, body = self.serve.request("GET", "/series?modality=CT")
        self.assertEqual(status, 504, body)
        self.assertEqual(body["error"]["code"], "timeout", body)


class ServeErrors(WireTest):
    def setUp(self):
        super().setUp()
        create_catalogue(self.fake.uri())  # serve needs a catalogue (and these tests its unique indexes)

    def test_duplicate_key_on_api_insert_is_409(self):
        self.serve = Serve(self.fake.uri())
        # The API first checks the key itself (the fake has no such researcher), then inserts: a concurrent writer
        # took the key in between, so the server answers the insert with E11000. MockupDB's queue hands it to us.
        self.fake.queue_when = lambda name, doc: name == "insert" and doc.get("insert") == "researchers"
        holder = {}
        worker = threading.Thread(target=lambda: holder.setdefault("answer", self.serve.request(
            "POST", "/researchers", {"researcher_id": "r12345", "name": "Dr. Alice Lee",
                                     "email": "alice@example.org"})), daemon=True)
        worker.start()
        request = self.fake.server.receives(OpMsg("insert", "researchers"), timeout=WAIT)
        docs = request.doc["documents"]
        self.assertEqual(len(docs), 1)
        self.assertEqual(docs[0]["researcher_id"], "r12345")
        self.assertIsInstance(docs[0]["_id"], ObjectId)
        self.assertIsInstance(docs[0]["created_at"], datetime.datetime)
        self.assertEqual(docs[0]["jobs"], [])
        self.assertEqual(request.doc.get("writeConcern"), {"w": "majority"})
        request.replies({"ok": 1, "n": 0, "writeErrors": [{
            "index": 0, "code": 11000, "keyPattern": {"researcher_id": 1}, "keyValue": {"researcher_id": "r12345"},
            "errmsg": "E11000 duplicate key error collection: wiredb.researchers index: ix_researcher_id "
                      "dup key: { researcher_id: \"r12345\" }"}]})
        worker.join(WAIT)
        self.assertIn("answer", holder, "no HTTP answer")
        status, body = holder["answer"]
        self.assertEqual(status, 409, body)
        self.assertEqual(body["error"]["code"], "conflict", body)
        self.assertIn("researcher_id", json.dumps(body))
        self.fake.queue_when = None
        # Nothing else was written for the failed create, and the next create works.
        self.assertEqual(self.fake.docs("researchers"), [])
        status, body = self.serve.request("POST", "/researchers", {"researcher_id": "r2", "name": "B",
                                                                   "email": "b@example.org"})
        self.assertEqual(status, 201, body)
        status, body = self.serve.request("POST", "/researchers", {"researcher_id": "r2", "name": "B",
                                                                   "email": "b@example.org"})
        self.assertEqual(status, 409, body)

    def test_not_writable_primary_during_api_write_is_not_silently_dropped(self):
        self.serve = Serve(self.fake.uri())
        self.fake.fault(is_write_to("researchers"),
                        {"ok": 0, "code": 10107, "codeName": "NotWritablePrimary", "errmsg": "not primary"},
                        times=10 ** 6)
        status, body = self.serve.request("POST", "/researchers", {"researcher_id": "r3", "name": "C",
                                                                   "email": "c@example.org"})
        self.assertEqual(status, 503, body)
        self.assertGreaterEqual(len(self.fake.commands("insert", ns="researchers")), 2, "never retried")
        self.fake.faults.clear()
        status, body = self.serve.request("POST", "/researchers", {"researcher_id": "r3", "name": "C",
                                                                   "email": "c@example.org"})
        self.assertEqual(status, 201, body)


    def test_duplicate_key_after_a_lost_reply_is_409_not_a_phantom_201(self):
        """The first insert's reply is lost (connection closed, nothing applied) and meanwhile another writer takes
        the researcher_id: the retry meets E11000 on ix_researcher_id, which is not our own first attempt (that
        would be a duplicate on _id), so the create failed."""
        self.serve = Serve(self.fake.uri())
        self.fake.fault(is_insert_into("researchers"), take_key_then("researchers", "researcher_id", "r9", "hangup"))
        status, body = self.serve.request("POST", "/researchers", {"researcher_id": "r9", "name": "N",
                                                                   "email": "n@example.org"})
        stored = self.fake.docs("researchers")
        self.assertEqual(len(stored), 1)
        if status == 201:
            got, _ = self.serve.request("GET", f"/researchers/{body['_id']}")
            self.fail(f"201 for a researcher that was never stored (GET /researchers/{body['_id']} -> {got}; "
                      f"the stored r9 is {stored[0]['_id']})")
        self.assertEqual(status, 409, body)


def take_key_then(collection, key, value, then):
    """A fault action: another writer stores a document holding `key`=`value` (another _id) just before this
    request is served; then the request is answered ("apply") or its connection closed unapplied ("hangup")."""
    def act(fake, request, name, doc):
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # BSON dates hold milliseconds
        other = {"_id": ObjectId(), key: value, "description": "made by another process", "cases": [],
                 "created_at": now, "updated_at": now}
        fake.data.setdefault(f"wiredb.{collection}", []).append(other)
        if then == "hangup":
            return request.hangup()
        return request.replies(fake._answer(name, doc))
    return act


class IngestConflicts(WireTest):
    """Two ingests (e.g. `--shard 0/2` and `--shard 1/2`, which docs/cli.md says never conflict) racing to create
    the `--collection`: the loser must reuse the winner's collection."""

    def assert_collection_ids_resolve(self):
        collections = {c["_id"] for c in self.fake.docs("collections")}
        self.assertEqual(len(collections), 1)
        for kind in ("studies", "series"):
            for doc in self.fake.docs(kind):
                self.assertTrue(doc["collection_ids"], doc["_id"])
                for ref in doc["collection_ids"]:
                    self.assertIn(ref, collections, f"{kind} {doc['_id']}: collection_ids names no collection")

    def test_collection_created_concurrently_is_reused(self):
        self.fake.fault(is_insert_into("collections"), take_key_then("collections", "name", "LIDC-IDRI", "apply"))
        proc = ingest(self.fake.uri())
        self.assertEqual(proc.returncode, 0, self.diagnose(proc))
        self.assert_ingested(proc)
        self.assert_collection_ids_resolve()

    def test_collection_created_concurrently_after_a_lost_reply_is_not_a_dangling_reference(self):
        self.fake.fault(is_insert_into("collections"), take_key_then("collections", "name", "LIDC-IDRI", "hangup"))
        proc = ingest(self.fake.uri())
        if proc.returncode == 0:
            self.assert_ingested(proc)
            self.assert_collection_ids_resolve()
        else:  # failing loudly is acceptable; succeeding with references to nothing is not
            self.assertTrue(one_line_reason(proc.stderr).startswith("meta_db: "), self.diagnose(proc))

    def test_cases_written_concurrently_by_another_shard_are_kept(self):
        """Between this ingest's read of the collection and its write of the cases, another shard's ingest added
        its own case: the write must not replace the collection with a stale copy (a whole-document replace loses
        the other shard's case; $addToSet/$push of this shard's cases, or a compare-and-swap, keeps both)."""
        other_case = {"case_id": "LIDC-IDRI-9999", "patient_id": "LIDC-IDRI-9999", "accession_numbers": ["A9999"]}

        def other_shard_adds_a_case(fake, request, name, doc):
            # Another meta_db writer: it stamps updated_at, as every write of the catalogue does.
            for stored in fake.data.get("wiredb.collections", []):
                stored["cases"] = stored.get("cases", []) + [copy.deepcopy(other_case)]
                now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
                stored["updated_at"] = now.replace(microsecond=now.microsecond // 1000 * 1000)  # BSON dates: ms
            return request.replies(fake._answer(name, doc))

        self.fake.fault(lambda name, doc: name == "update" and doc.get("update") == "collections",
                        other_shard_adds_a_case)
        self.assert_ingested(ingest(self.fake.uri()))
        (collection,) = self.fake.docs("collections")
        case_ids = sorted(c["case_id"] for c in collection["cases"])
        self.assertIn("LIDC-IDRI-9999", case_ids, f"the other shard's case was overwritten: {case_ids}\n"
                      + json_util.dumps([d for d in self.fake.commands("update", ns="collections")])[:600])
        self.assertIn("LIDC-IDRI-0001", case_ids)


# ------------------------------------------------------------------------------------------------------------------


class LineResult(unittest.TextTestResult):
    """One line per test: PASS/FAIL/ERROR name (seconds)."""

    def startTest(self, test):
        self._started = time.monotonic()
        super().startTest(test)

    def _line(self, word, test):
        name = test.id().replace("__main__.", "")
        self.stream.write(f"{word} {name} ({time.monotonic() - self._started:.1f}s)\n")
        self.stream.flush()

    def addSuccess(self, test):
        super().addSuccess(test)
        self._line("PASS", test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._line("FAIL", test)

    def addError(self, test, err):
        super().addError(test, err)
        self._line("ERROR", test)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._line(f"SKIP ({reason})", test)


def main():
    global BINARY, ARCHIVE, MANIFEST, TMP
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.environ.get("META_DB_BIN"))
    parser.add_argument("-k", dest="pattern", action="append")
    parser.add_argument("--print-sequence", action="store_true", help="print the command sequence of one ingest")
    args = parser.parse_args()
    BINARY = args.binary or shutil.which("meta_db")
    if not BINARY or not os.access(BINARY, os.X_OK):
        print("wire_test: no meta_db binary (--binary or META_DB_BIN)", file=sys.stderr)
        print("0 passed, 1 failed")
        return 1
    TMP = tempfile.mkdtemp(prefix="meta_db-wire-")
    started = time.monotonic()
    try:
        ARCHIVE = os.path.join(TMP, "archive")
        proc = run_meta_db("synth", "--patients", "2", "--small", "--out", ARCHIVE)
        if proc.returncode != 0:
            print(f"wire_test: synth failed: {proc.stderr}", file=sys.stderr)
            print("0 passed, 1 failed")
            return 1
        MANIFEST = json.loads(proc.stdout)
        if args.print_sequence:
            fake = FakeMongo()
            try:
                ingest(fake.uri())
                print(fake.sequence())
            finally:
                fake.stop()
        loader = unittest.TestLoader()
        if args.pattern:
            loader.testNamePatterns = [f"*{p}*" for p in args.pattern]
        suite = loader.loadTestsFromModule(sys.modules[__name__])
        runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=0, resultclass=LineResult)
        result = runner.run(suite)
        failed = len(result.failures) + len(result.errors)
        passed = result.testsRun - failed - len(result.skipped)
        print(f"wire_test: {time.monotonic() - started:.1f}s")
        print(f"{passed} passed, {failed} failed")
        return 0 if failed == 0 and result.testsRun > 0 else 1
    finally:
        shutil.rmtree(TMP, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
