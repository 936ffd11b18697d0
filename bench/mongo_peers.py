#!/usr/bin/python3
"""Peers of `meta_db ingest --db mongodb://...` for bench/mongo.sh (the MongoDB ingest benchmark).

  mongo_peers.py seed ARCHIVE URI [PROFILE_DIR]
      (a) The seed's approach, written the way its own code did it (amritansh29/meta_db: pydicom in
      meta_extractor/extractor.py, the pymongo writes of db_api/routes.py), straight to the database with no HTTP
      in between. One process, one thread, one file at a time:
        - os.walk the archive; pydicom.dcmread(path, stop_before_pixels=True) on every file; a file pydicom
          rejects, or that lacks a Study/Series/SOP Instance UID, is skipped (try/except, counted);
        - the tags of meta_db's default profiles (profiles/{study,series,instance}.txt, read as
          bench/pydicom_extract.py reads them) become the documents of the seed's schema with its field names:
          promoted fields at the top level (study_instance_uid, accession_number, patient_id, study_date;
          series_instance_uid, series_number, series_description, modality; sop_instance_uid, sop_class_uid,
          instance_number, acquisition_datetime), every other tag under `metadata` by keyword (the file meta
          header's TransferSyntaxUID included), created_at/updated_at as BSON dates;
        - the first time a study UID is seen: studies.update_one({study_instance_uid}, {$set, $setOnInsert},
          upsert=True); the first time a series UID is seen: the same on series (study_id, accession_number,
          patient_id, _search_text, num_instances 0, instances [], embeddings_id null), then
          studies.update_one($addToSet the seed's shallow series summary) as the seed's POST /series did;
        - every instance: instances.insert_one(doc), then series.update_one({_id}, {$addToSet: {instances: id},
          $inc: {num_instances: 1}}) as the seed's POST /instances did (num_instances kept in the same update);
        - unique indexes on the three UIDs and an index on series_id / study_id are created first (the seed's
          schema calls them indexed fields; meta_db creates them too), so both write into indexed collections.
      Timed by the caller as the whole process (interpreter start included, as bench/ingest.sh times pydicom).
      Prints a one-line summary on stderr. Meant for a fresh database (it does not dedupe a second run).

  mongo_peers.py floor SRC_URI DST_URI
      (b) The client-side floor: every document of every collection meta_db wrote in SRC (catalogue and ingest
      ledger alike, system collections excepted) is read into memory first and the DST collections are created
      empty with SRC's indexes (neither timed); then only insert_many(docs, ordered=False) per collection is
      timed (pymongo splits it into maxWriteBatchSize / 48 MB message batches by itself). Prints the seconds on
      stdout, details on stderr.

  mongo_peers.py count URI        per-collection document counts as one JSON line
  mongo_peers.py commands URI [BEFORE.json]
                                  the server's command counters (serverStatus metrics.commands), or their growth
                                  since BEFORE.json, as one JSON line (a client's own handshake/status left out)
  mongo_peers.py drop URI...      drop those databases

URIs name their database: mongodb://127.0.0.1:PORT/DBNAME.
"""
import datetime
import json
import os
import sys
import time

import pymongo
from pymongo import uri_parser


def database(uri):
    name = uri_parser.parse_uri(uri).get("database")
    if not name:
        sys.exit(f"{uri}: the URI names no database (mongodb://HOST:PORT/DBNAME)")
    # One connection, like the seed's app; FerretDB has no retryable writes worth a retry here.
    client = pymongo.MongoClient(uri, retryWrites=False)
    return client, client[name]


# ---- (a) the seed's approach --------------------------------------------------------------------------------

STUDY_PROMOTED = {"StudyInstanceUID": "study_instance_uid", "AccessionNumber": "accession_number",
                  "PatientID": "patient_id", "StudyDate": "study_date"}
SERIES_PROMOTED = {"SeriesInstanceUID": "series_instance_uid", "SeriesNumber": "series_number",
                   "SeriesDescription": "series_description", "Modality": "modality"}
INSTANCE_PROMOTED = {"SOPInstanceUID": "sop_instance_uid", "SOPClassUID": "sop_class_uid",
                     "InstanceNumber": "instance_number"}
SEARCH_TEXT_METADATA = ("BodyPartExamined", "Manufacturer", "ManufacturerModelName", "ConvolutionKernel",
                        "ProtocolName", "PatientPosition", "StudyDescription", "SliceThickness")


def profile_keywords(profile_dir, level):
    keywords = []
    with open(os.path.join(profile_dir, level + ".txt")) as handle:
        for line in handle:
            line = line.split("#", 1)[0].strip()
            if line and not line.startswith("("):
                keywords.append(line)
    return keywords


def plain(value):
    import pydicom
    if isinstance(value, pydicom.multival.MultiValue):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return value if value != "" else None
    return str(value)


def level_doc(dataset, keywords, promoted, file_meta=None):
    doc, metadata = {}, {}
    for keyword in keywords:
        source = file_meta if keyword == "TransferSyntaxUID" and file_meta is not None else dataset
        if keyword not in source:
            continue
        value = plain(source.data_element(keyword).value)
        if keyword in promoted:
            first = value[0] if isinstance(value, list) and value else value
            if first is not None and first != "" and not isinstance(first, list):
                doc[promoted[keyword]] = first
        else:
            metadata[keyword] = value
    doc["metadata"] = metadata
    return doc


def search_text(series):
    words = [series.get("modality"), series.get("series_description")]
    words += [series["metadata"].get(key) for key in SEARCH_TEXT_METADATA]
    return " ".join(f"{w:g}" if isinstance(w, float) else str(w) for w in words
                    if w is not None and w != "" and not isinstance(w, list))


def seed(archive, uri, profile_dir):
    import pydicom
    keywords = {level: profile_keywords(profile_dir, level) for level in ("study", "series", "instance")}
    client, db = database(uri)
    studies, series, instances = db["studies"], db["series"], db["instances"]
    studies.create_index("study_instance_uid", unique=True)
    series.create_index("series_instance_uid", unique=True)
    series.create_index("study_id")
    instances.create_index("sop_instance_uid", unique=True)
    instances.create_index("series_id")

    study_ids, series_ids, study_keys = {}, {}, {}
    started = time.monotonic()
    files = inserted = failed = 0
    for directory, _, names in os.walk(archive):
        for name in sorted(names):
            path = os.path.join(directory, name)
            files += 1
            try:
                dataset = pydicom.dcmread(path, stop_before_pixels=True)
                study_uid = dataset.StudyInstanceUID
                series_uid = dataset.SeriesInstanceUID
                dataset.SOPInstanceUID  # noqa: B018 - a file without one is not an instance
                now = datetime.datetime.now(datetime.timezone.utc)

                study_id = study_ids.get(study_uid)
                if study_id is None:
                    study = level_doc(dataset, keywords["study"], STUDY_PROMOTED)
                    study["collection_ids"] = []
                    study["updated_at"] = now
                    result = studies.update_one(
                        {"study_instance_uid": study_uid},
                        {"$set": study, "$setOnInsert": {"series": [], "created_at": now}}, upsert=True)
                    study_id = result.upserted_id or studies.find_one({"study_instance_uid": study_uid}, {"_id": 1})["_id"]
                    study_ids[study_uid] = study_id
                    study_keys[study_uid] = {k: study[k] for k in ("accession_number", "patient_id") if k in study}
                series_id = series_ids.get(series_uid)
                if series_id is None:
                    one = level_doc(dataset, keywords["series"], SERIES_PROMOTED)
                    one["study_id"] = study_id
                    one["study_instance_uid"] = study_uid
                    one.update(study_keys[study_uid])
                    one["collection_ids"] = []
                    one["_search_text"] = search_text(one)
                    one["embeddings_id"] = None
                    one["updated_at"] = now
                    result = series.update_one(
                        {"series_instance_uid": series_uid},
                        {"$set": one, "$setOnInsert": {"instances": [], "num_instances": 0, "created_at": now}},
                        upsert=True)
                    series_id = result.upserted_id or series.find_one({"series_instance_uid": series_uid}, {"_id": 1})["_id"]
                    series_ids[series_uid] = series_id
                    summary = {"series_id": series_id}
                    for key in ("series_instance_uid", "series_number", "series_description", "modality"):
                        if key in one:
                            summary[key] = one[key]
                    studies.update_one({"_id": study_id}, {"$addToSet": {"series": summary}})

                instance = level_doc(dataset, keywords["instance"], INSTANCE_PROMOTED, dataset.file_meta)
                meta = instance["metadata"]
                when = meta.get("AcquisitionDateTime") or ((meta.get("AcquisitionDate") or "") +
                                                            (meta.get("AcquisitionTime") or ""))
                if isinstance(when, str) and when:
                    instance["acquisition_datetime"] = when
                instance["series_id"] = series_id
                instance["series_instance_uid"] = series_uid
                instance["path"] = path
                instance["created_at"] = now
                instance["updated_at"] = now
                instance_id = instances.insert_one(instance).inserted_id
                series.update_one({"_id": series_id},
                                  {"$addToSet": {"instances": instance_id}, "$inc": {"num_instances": 1}})
                inserted += 1
            except Exception as error:  # noqa: BLE001 - a failing file is skipped and counted, never fatal
                failed += 1
                if os.environ.get("SEED_VERBOSE"):
                    print(f"{path}: {type(error).__name__}: {error}", file=sys.stderr)
    seconds = time.monotonic() - started
    client.close()
    print(f"seed: {files} files, {inserted} instances inserted, {failed} skipped, {len(study_ids)} studies, "
          f"{len(series_ids)} series, {seconds:.2f} s, {files / max(seconds, 1e-9):.0f} files/s", file=sys.stderr)


# ---- (b) the client-side floor ------------------------------------------------------------------------------

INDEX_OPTIONS = ("unique", "sparse", "partialFilterExpression", "expireAfterSeconds", "collation")


def floor(src_uri, dst_uri):
    src_client, src = database(src_uri)
    dst_client, dst = database(dst_uri)
    if src.name == dst.name and src_uri.split("/")[2] == dst_uri.split("/")[2]:
        sys.exit("floor: SRC and DST are the same database")
    dst_client.drop_database(dst.name)
    names = sorted(n for n in src.list_collection_names() if not n.startswith("system."))
    loaded = {}
    for name in names:
        loaded[name] = list(src[name].find())
        dst.create_collection(name)
        for index, info in src[name].index_information().items():
            if index == "_id_":
                continue
            options = {k: info[k] for k in INDEX_OPTIONS if k in info}
            dst[name].create_index(info["key"], name=index, **options)
    src_client.close()
    total = sum(len(docs) for docs in loaded.values())
    if total == 0:
        sys.exit(f"floor: {src_uri} holds no documents")

    started = time.perf_counter()
    for name, docs in loaded.items():
        if docs:
            dst[name].insert_many(docs, ordered=False)
    seconds = time.perf_counter() - started

    written = {name: dst[name].estimated_document_count() for name in names}
    dst_client.close()
    mismatched = {n: (len(loaded[n]), written[n]) for n in names if written[n] != len(loaded[n])}
    if mismatched:
        sys.exit(f"floor: documents read/written differ: {mismatched}")
    print(f"floor: {total} documents in {len(names)} collections "
          f"({', '.join(f'{n} {len(d)}' for n, d in loaded.items())}), insert_many {seconds:.3f} s, "
          f"{total / max(seconds, 1e-9):.0f} docs/s", file=sys.stderr)
    print(f"{seconds:.6f}")


def count(uri):
    client, db = database(uri)
    names = sorted(n for n in db.list_collection_names() if not n.startswith("system."))
    print(json.dumps({name: db[name].count_documents({}) for name in names}))
    client.close()


# Commands a client sends to count itself, not the workload: left out of `commands` deltas.
OWN_COMMANDS = {"serverStatus", "isMaster", "ismaster", "hello", "unknown", "endSessions", "buildInfo"}


def commands(uri, before=None):
    """The server's per-command counters (serverStatus metrics.commands.*.total; MongoDB and FerretDB both
    keep them). With BEFORE (a JSON file of an earlier call), the difference instead, as one JSON line."""
    client = pymongo.MongoClient(uri, retryWrites=False)
    status = client.admin.command("serverStatus")
    client.close()
    now = {name: int(entry.get("total", 0)) for name, entry in status.get("metrics", {}).get("commands", {}).items()
           if isinstance(entry, dict) and name not in OWN_COMMANDS}
    if before is not None:
        with open(before) as handle:
            earlier = json.load(handle)
        now = {name: total - earlier.get(name, 0) for name, total in now.items() if total - earlier.get(name, 0) > 0}
    print(json.dumps(now, sort_keys=True))


def drop(uris):
    for uri in uris:
        client, db = database(uri)
        client.drop_database(db.name)
        client.close()


def main():
    args = sys.argv[1:]
    here = os.path.dirname(os.path.abspath(__file__))
    if len(args) in (3, 4) and args[0] == "seed":
        seed(args[1], args[2], args[3] if len(args) == 4 else os.path.join(here, "..", "profiles"))
    elif len(args) == 3 and args[0] == "floor":
        floor(args[1], args[2])
    elif len(args) == 2 and args[0] == "count":
        count(args[1])
    elif len(args) in (2, 3) and args[0] == "commands":
        commands(args[1], args[2] if len(args) == 3 else None)
    elif len(args) >= 2 and args[0] == "drop":
        drop(args[1:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
