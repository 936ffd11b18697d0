// Aggregation of parsed files into the seed's documents and their idempotent, batched upserts.
#include "driver/batch_writer.hpp"

#include "catalog/catalog.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"
#include "driver/annotation_link.hpp"

#include <boost/json/array.hpp>

#include <algorithm>
#include <map>

namespace meta_db::driver {

namespace json = boost::json;
using extractor::FileOutcome;
using extractor::ScanItem;

struct BatchWriter::Touched {
  std::set<ObjectId> series, studies;                  // refresh summaries/lists
  std::set<ObjectId> emptied_series, emptied_studies;  // lost children: remove if now empty
  std::map<std::string, std::set<std::string>> cases;  // patient_id -> accession numbers
};

namespace {

constexpr std::size_t kMaxListedFailures = 20;

// A file that could not be opened or read (EACCES, EIO, ESTALE, gone since the walk stat'ed it): unlike a file whose
// content failed to parse, it says nothing about the file's content.
bool IsReadFailure(const std::string& error) {
  return error.starts_with("cannot open") || error.starts_with("read error");
}

// Whether a file record with this status vouches for the instance its SOP Instance UID names: "ok", and "unreadable"
// when the file provided it before it became unreadable (the instance is kept: unknown, not gone).
bool Provides(std::string_view status) { return status == "ok" || status == "unreadable"; }

// The file was an LIDC read at the last ingest (an unreadable file may have been one).
bool WasRead(const KnownFiles::File* previous) {
  return previous != nullptr && (previous->status == "annotations" || previous->status == "unreadable");
}

std::string StringField(const json::object& doc, std::string_view key) {
  const auto* value = doc.if_contains(key);
  return value && value->is_string() ? std::string(value->as_string()) : std::string();
}

// Overwrites `target` with the fields of `fresh`; metadata is merged key by key so attributes that only
// some files of a series carry are kept (the last parsed file wins for a key both carry).
void MergeInto(json::object& target, const json::object& fresh) {
  for (const auto& [key, value] : fresh) {
    if (key == "metadata" && value.is_object()) {
      json::value& metadata = target["metadata"];
      if (!metadata.is_object()) metadata = json::object{};
      for (const auto& [tag, tag_value] : value.as_object()) metadata.as_object()[tag] = tag_value;
    } else {
      target[key] = value;
    }
  }
}

// Merges one file's study or series fields into the batch's document for it. The files of a series nearly
// always agree, so an equal document costs a comparison, not a merge's copies.
void Absorb(json::object& target, const json::object& fresh) {
  if (target.empty()) {
    target = fresh;
  } else if (target != fresh) {
    MergeInto(target, fresh);
  }
}

void AddUnique(json::object& doc, std::string_view key, const std::string& value) {
  json::value& list = doc[key];
  if (!list.is_array()) list = json::array{};
  auto& array = list.as_array();
  if (std::find(array.begin(), array.end(), json::value(value)) == array.end()) array.emplace_back(value);
}

// The stored document with this unique key (nullopt if none) and the document to write: the stored one, or a
// fresh one whose _id derives from the key, so re-ingest and ingests sharded over machines agree on ids.
struct Upsert {
  std::optional<json::object> stored;
  json::object doc;
};

// `group`: the parent's UID for instances, so a series' instances get neighbouring ids.
Upsert NewOrStored(Kind kind, const std::string& key, std::string_view group, std::optional<json::object> stored) {
  Upsert upsert{std::move(stored), {}};
  if (upsert.stored) {
    upsert.doc = *upsert.stored;
  } else {
    upsert.doc["_id"] = ObjectId::FromKey(CollectionName(kind), key, group).ToHex();
  }
  return upsert;
}

Upsert LoadOrNew(Session& session, Kind kind, const std::string& key, std::string_view group = {}) {
  return NewOrStored(kind, key, group, session.GetByKey(kind, key));
}

ObjectId IdOf(const json::object& doc) { return *ObjectId::Parse(doc.at("_id").as_string()); }

// The other file that already provides this instance, if any ("" when the instance is new, comes from this
// path, was created through the API, or its file no longer provides it).
std::string HolderOf(Session& session, const std::optional<json::object>& stored, const std::string& path) {
  if (!stored) return {};
  const auto* holder = stored->if_contains("path");
  if (holder == nullptr || !holder->is_string() || holder->as_string() == path) return {};
  const std::string other(holder->as_string());
  const std::optional<FileRecord> record = session.GetFileRecord(other);
  const bool provides = record && Provides(record->status) &&
                        record->sop_instance_uid == StringField(*stored, "sop_instance_uid");
  return provides ? other : std::string();
}

void Tally(std::set<ObjectId>& inserted, std::set<ObjectId>& updated, const ObjectId& id, catalog::PutResult result) {
  if (result == catalog::PutResult::kInserted) inserted.insert(id);
  if (result == catalog::PutResult::kUpdated && !inserted.contains(id)) updated.insert(id);
}

}  // namespace

BatchWriter::BatchWriter(Store& store, std::optional<ObjectId> collection_id,
                         const KnownFiles& previous, IngestSummary& summary)
    : store_(store),
      collection_id_(collection_id),
      previous_(previous),
      summary_(summary),
      thread_([this](std::stop_token stop) { RunWriter(stop); }) {}

BatchWriter::~BatchWriter() {
  {
    std::lock_guard lock(mutex_);
    thread_.request_stop();
  }
  changed_.notify_all();
}

void BatchWriter::Add(ScanItem&& item, std::size_t batch_files) {
  // The batch's study and series documents are merged here, on the ingest thread, which otherwise only
  // counts: the writer thread is the pipeline's narrowest stage.
  if (item.result.outcome == FileOutcome::kDicom) {
    const auto& record = item.result.record;
    const std::string study_uid = StringField(record.study, "study_instance_uid");
    const std::string series_uid = StringField(record.series, "series_instance_uid");
    Absorb(pending_.studies[study_uid], record.study);
    Absorb(pending_.series[series_uid], record.series);
    pending_.series_study[series_uid] = study_uid;
  }
  pending_.items.push_back(std::move(item));
  if (pending_.items.size() < batch_files) return;
  // While the writer still commits the previous batch this one grows instead of waiting for it, so the parsers
  // keep the other core busy; only a writer this far behind makes them wait.
  if (pending_.items.size() < kMaxBatchGrowth * batch_files && WriterBusy()) return;
  Submit();
}

bool BatchWriter::WriterBusy() {
  std::lock_guard lock(mutex_);
  return has_work_;
}

void BatchWriter::Flush() {
  Submit();
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return !has_work_; });
  Batch written = std::exchange(handoff_, {});
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

// Hands the pending batch to the writer thread, waiting while it still writes the previous one: parsing goes
// on while a batch commits, and at most two batches are in memory.
void BatchWriter::Submit() {
  if (pending_.items.empty()) return;
  std::unique_lock lock(mutex_);
  changed_.wait(lock, [&] { return !has_work_; });
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
  Batch written = std::exchange(handoff_, std::move(pending_));
  pending_ = {};
  has_work_ = true;
  lock.unlock();
  changed_.notify_all();
  // `written` (the batch just committed) is freed here, on the ingest thread, while the writer goes on.
}

void BatchWriter::RunWriter(std::stop_token stop) {
  std::unique_lock lock(mutex_);
  while (true) {
    changed_.wait(lock, [&] { return has_work_ || stop.stop_requested(); });
    if (!has_work_) return;
    lock.unlock();
    std::exception_ptr error;
    try {
      store_.Write([&](Session& session) {
        Touched touched;
        WriteBatch(session, handoff_, touched);
        FinishTouched(session, touched);
      });
    } catch (...) {
      error = std::current_exception();  // rethrown on the ingest thread at its next hand-off
    }
    lock.lock();
    error_ = error;
    has_work_ = false;
    changed_.notify_all();
  }
}

// One request for the batch's stored instances instead of one per file (a server back-end's round trips), and only
// for those that can be stored.
void BatchWriter::PrefetchInstances(Session& session, Batch& batch) {
  if (!look_up_every_instance_) {
    std::int64_t recorded = 0;
    for (const KnownFiles::File& file : previous_.files()) {
      if (!Provides(file.status)) continue;
      ++recorded;
      recorded_sops_.insert(previous_.SopOf(file));
    }
    look_up_every_instance_ = session.Count(Kind::kInstances) > recorded;
  }
  std::vector<std::string> sops;
  sops.reserve(batch.items.size());
  for (const ScanItem& item : batch.items) {
    if (item.result.outcome != FileOutcome::kDicom) continue;
    std::string sop = StringField(item.result.record.instance, "sop_instance_uid");
    const bool may_be_stored =
        *look_up_every_instance_ || recorded_sops_.contains(sop) || written_sops_.contains(sop);
    if (batch.stored_instances.emplace(sop, std::nullopt).second && may_be_stored) sops.push_back(std::move(sop));
  }
  for (json::object& doc : session.GetByKeys(Kind::kInstances, sops)) {
    const std::string sop = StringField(doc, "sop_instance_uid");
    batch.stored_instances[sop] = std::move(doc);
  }
}

void BatchWriter::WriteBatch(Session& session, Batch& batch, Touched& touched) {
  const std::string now = NowIsoUtc();
  // The stored marks of the batch's LIDC reads (now or before) first, in one look-up before any write.
  std::vector<std::string> read_paths;
  for (const ScanItem& item : batch.items) {
    if (item.lidc || WasRead(previous_.Find(item.entry.path))) read_paths.push_back(item.entry.path);
  }
  if (!read_paths.empty()) batch.stored_marks = StoredMarksOf(session, read_paths);
  // Studies and series first, once per batch each (a batch holds hundreds of slices of few series).
  const auto studies = UpsertStudies(session, batch, touched);
  const auto series_ids = UpsertSeries(session, batch, studies, touched);
  batch.retired.reserve(batch.items.size());
  PrefetchInstances(session, batch);
  for (ScanItem& item : batch.items) WriteFile(session, item, series_ids, now, touched, batch);
}

// The stored documents of the batch's studies or series, in one request.
std::map<std::string, json::object> StoredByKey(Session& session, Kind kind,
                                                const std::map<std::string, json::object>& fresh) {
  std::vector<std::string> uids;
  uids.reserve(fresh.size());
  for (const auto& [uid, doc] : fresh) uids.push_back(uid);
  std::map<std::string, json::object> stored;
  const std::string key(*UniqueKey(kind));
  for (json::object& doc : session.GetByKeys(kind, uids)) {
    std::string uid = StringField(doc, key);
    stored.emplace(std::move(uid), std::move(doc));
  }
  return stored;
}

// Takes the prefetched document of `uid` out of `stored` (none: a new document).
Upsert TakeOrNew(Kind kind, const std::string& uid, std::map<std::string, json::object>& stored) {
  auto node = stored.extract(uid);
  return NewOrStored(kind, uid, {}, node ? std::optional<json::object>(std::move(node.mapped())) : std::nullopt);
}

std::map<std::string, json::object> BatchWriter::UpsertStudies(Session& session, Batch& batch, Touched& touched) {
  std::map<std::string, json::object> stored;
  std::map<std::string, json::object> prefetched = StoredByKey(session, Kind::kStudies, batch.studies);
  for (auto& [uid, fresh] : batch.studies) {
    Upsert upsert = TakeOrNew(Kind::kStudies, uid, prefetched);
    json::object& doc = upsert.doc;
    MergeInto(doc, fresh);
    if (collection_id_) AddUnique(doc, "collection_ids", collection_id_->ToHex());
    const std::string patient = StringField(doc, "patient_id");
    if (!patient.empty()) {
      auto& accessions = touched.cases[patient];
      if (const std::string accession = StringField(doc, "accession_number"); !accession.empty()) {
        accessions.insert(accession);
      }
    }
    const auto result = catalog::PutIfChanged(session, Kind::kStudies, doc, upsert.stored);
    Tally(studies_inserted_, studies_updated_, IdOf(doc), result);
    if (result == catalog::PutResult::kInserted) created_studies_[IdOf(doc)];
    studies_seen_.insert(IdOf(doc));
    touched.studies.insert(IdOf(doc));
    stored.emplace(uid, std::move(doc));
  }
  return stored;
}

std::map<std::string, ObjectId> BatchWriter::UpsertSeries(Session& session, Batch& batch,
                                                          const std::map<std::string, json::object>& studies,
                                                          Touched& touched) {
  std::map<std::string, ObjectId> ids;
  std::map<std::string, json::object> prefetched = StoredByKey(session, Kind::kSeries, batch.series);
  for (auto& [uid, fresh] : batch.series) {
    const json::object& study = studies.at(batch.series_study.at(uid));
    Upsert upsert = TakeOrNew(Kind::kSeries, uid, prefetched);
    json::object& doc = upsert.doc;
    MergeInto(doc, fresh);
    doc["study_id"] = study.at("_id");
    doc["study_instance_uid"] = study.at("study_instance_uid");
    for (std::string_view key : {"accession_number", "patient_id"}) {
      if (const auto* value = study.if_contains(key)) doc[key] = *value;
    }
    if (!doc.contains("instances")) doc["instances"] = json::array{};
    if (!doc.contains("num_instances")) doc["num_instances"] = 0;
    if (!doc.contains("collection_ids")) doc["collection_ids"] = json::array{};
    if (!doc.contains("embeddings_id")) doc["embeddings_id"] = nullptr;
    if (collection_id_) AddUnique(doc, "collection_ids", collection_id_->ToHex());
    const auto result = catalog::PutIfChanged(session, Kind::kSeries, doc, upsert.stored);
    Tally(series_inserted_, series_updated_, IdOf(doc), result);
    if (result == catalog::PutResult::kInserted) {
      created_series_[IdOf(doc)];
      created_geometry_[IdOf(doc)];
      created_slices_[uid];
    }
    const ObjectId study_id = IdOf(study);
    if (auto created = created_studies_.find(study_id); created != created_studies_.end()) {
      json::object summary_fields{{"_id", doc.at("_id")}};
      for (std::string_view key : {"series_instance_uid", "series_number", "series_description", "modality"}) {
        if (const auto* value = doc.if_contains(key)) summary_fields[key] = *value;
      }
      created->second[IdOf(doc)] = std::move(summary_fields);
    }
    series_seen_.insert(IdOf(doc));
    touched.series.insert(IdOf(doc));
    annotation_series_.insert(uid);  // its slices may have changed: its marks' links and measures are checked
    ids.emplace(uid, IdOf(doc));
  }
  return ids;
}

void BatchWriter::PutRecord(Session& session, const FileRecord& record) {
  session.PutFileRecord(record);
  written_.Put(record);
}

// Records a file that is not indexed, with its reason in the error register.
void BatchWriter::RegisterFailure(Session& session, FileRecord& record, std::string status,
                                  const std::string& reason, const std::string& now) {
  record.status = std::move(status);
  session.PutError(record.path, reason, now);
  if (summary_.failures.size() < kMaxListedFailures) summary_.failures.emplace_back(record.path, reason);
  PutRecord(session, record);
}

// One file of the batch: its instance upserted (or its failure registered) and its file record written.
void BatchWriter::WriteFile(Session& session, ScanItem& item, const std::map<std::string, ObjectId>& series_ids,
                            const std::string& now, Touched& touched, Batch& batch) {
  std::vector<json::object>& retired = batch.retired;
  auto& result = item.result;
  // A file handed back by OrphanedDuplicates: its registration as a duplicate earlier in this run is undone, and
  // it is judged again below like any file.
  const bool readded = readded_.contains(item.entry.path);
  if (readded) {
    --summary_.duplicates;
    std::erase_if(summary_.failures, [&](const auto& failure) { return failure.first == item.entry.path; });
  }
  const KnownFiles::File* previous = previous_.Find(item.entry.path);
  const std::string old_sop = previous == nullptr ? std::string() : std::string(previous_.SopOf(*previous));
  FileRecord record{.path = item.entry.path, .size = item.entry.size, .mtime_ns = item.entry.mtime_ns,
                    .status = "", .sop_instance_uid = ""};
  if (result.outcome == FileOutcome::kError && IsReadFailure(result.error)) {
    // What the file holds is unknown, not changed: the instance it provided stays, and its record keeps vouching for
    // it. A read failure may heal without the file changing (permissions, a network mount), so it is retried every
    // run (and its directory's digest is never confirmed meanwhile).
    if (previous != nullptr && Provides(previous->status)) record.sop_instance_uid = old_sop;
    RegisterFailure(session, record, "unreadable", result.error, now);
    return;
  }
  // An LIDC read (now or before; an unreadable file may have been one): its marks replaced by what it holds now.
  if (item.lidc || WasRead(previous)) {
    const std::vector<Document> none;
    const auto stored = batch.stored_marks.find(item.entry.path);
    ReplaceFileAnnotations(session, item.entry.path, item.lidc.get(),
                           stored == batch.stored_marks.end() ? none : stored->second, annotation_series_);
  }
  if (item.lidc && result.outcome == FileOutcome::kNotDicom) {
    if (!old_sop.empty()) DropInstanceOf(session, item.entry.path, old_sop, touched);
    record.status = "annotations";
    ++summary_.annotation_files;
    session.ClearError(item.entry.path);
    PutRecord(session, record);
    return;
  }
  if (result.outcome != FileOutcome::kDicom) {
    if (!old_sop.empty()) DropInstanceOf(session, item.entry.path, old_sop, touched);
    if (result.outcome == FileOutcome::kNotDicom) {
      record.status = "skipped";
      session.ClearError(item.entry.path);
      PutRecord(session, record);
    } else {
      RegisterFailure(session, record, "error", result.error, now);
    }
    return;
  }
  const std::string sop = StringField(result.record.instance, "sop_instance_uid");
  if (const auto* notes = result.record.instance.if_contains("read_notes"); notes != nullptr && notes->is_array()) {
    ++summary_.noted;
    if (summary_.notes.size() < kMaxListedFailures && !notes->as_array().empty() && notes->as_array()[0].is_string()) {
      summary_.notes.emplace_back(item.entry.path, std::string(notes->as_array()[0].as_string()));
    }
  }
  if (!old_sop.empty() && old_sop != sop) DropInstanceOf(session, item.entry.path, old_sop, touched);
  const std::string series_uid = StringField(result.record.series, "series_instance_uid");
  Upsert upsert;
  if (auto prefetched = batch.stored_instances.extract(sop)) {
    upsert = NewOrStored(Kind::kInstances, sop, series_uid, std::move(prefetched.mapped()));
  } else {
    upsert = LoadOrNew(session, Kind::kInstances, sop, series_uid);
  }
  if (const std::string holder = HolderOf(session, upsert.stored, item.entry.path); !holder.empty()) {
    ++summary_.duplicates;
    RegisterFailure(session, record, "duplicate",
                    "duplicate SOPInstanceUID " + sop + ": already indexed from " + holder, now);
    duplicates_.emplace_back(item.entry, sop);
    return;
  }
  json::object& doc = upsert.doc;
  if (upsert.stored) {
    MergeInto(doc, result.record.instance);
  } else {  // a new instance is the file's fields as they are: move them in rather than copy them
    json::object& fresh = result.record.instance;
    doc.reserve(fresh.size() + 6);
    for (auto& field : fresh) doc.emplace(field.key(), std::move(field.value()));
  }
  doc["series_id"] = series_ids.at(StringField(result.record.series, "series_instance_uid")).ToHex();
  doc["series_instance_uid"] = result.record.series.at("series_instance_uid");
  doc["path"] = item.entry.path;
  written_sops_.insert(sop);
  const ObjectId series_id = *ObjectId::Parse(doc.at("series_id").as_string());
  if (const auto created = created_geometry_.find(series_id); created != created_geometry_.end()) {
    created->second[IdOf(doc)] = catalog::GeometryOf(doc);
  }
  if (const auto created = created_slices_.find(series_uid); created != created_slices_.end()) {
    created->second[IdOf(doc)] = KnownSlice{.sop_instance_uid = sop, .z = SliceZ(doc)};
  }
  if (const auto created = created_series_.find(series_id); created != created_series_.end()) {
    const auto* number = doc.if_contains("instance_number");
    if (number == nullptr || number->is_null()) {
      created->second[IdOf(doc)] = std::nullopt;
    } else if (number->is_int64()) {
      created->second[IdOf(doc)] = number->as_int64();
    } else {
      created_series_.erase(created);  // a number of another type: the store's ordering decides
    }
  }
  switch (catalog::PutIfChanged(session, Kind::kInstances, doc, upsert.stored)) {
    case catalog::PutResult::kInserted: ++summary_.instances.inserted; break;
    case catalog::PutResult::kUpdated: ++summary_.instances.updated; break;
    case catalog::PutResult::kUnchanged: ++summary_.instances.unchanged; break;
  }
  // Freeing a document's many small allocations costs the writer more than writing it did (most were made by
  // parser threads); the batch keeps them and is freed on the ingest thread instead.
  retired.push_back(std::move(doc));
  if (upsert.stored) retired.push_back(std::move(*upsert.stored));
  record.status = "ok";
  record.sop_instance_uid = sop;
  PutRecord(session, record);
  // Only a known file that failed before, or one registered as a duplicate earlier in this run, can have a
  // register entry (entries come and go with file records); skipping the delete keeps the hot path short.
  if (readded || (previous != nullptr && previous->status != "ok")) session.ClearError(item.entry.path);
}

// Only the file an instance names as its path provides it: a second file with the same SOP Instance UID is
// registered as a duplicate, never as a provider, so there is no other file to ask.
void BatchWriter::DropInstanceOf(Session& session, const std::string& path, const std::string& sop,
                                 Touched& touched) {
  DropInstance(session, path, session.GetByKey(Kind::kInstances, sop), touched);
}

void BatchWriter::DropInstance(Session& session, const std::string& path, const std::optional<json::object>& instance,
                               Touched& touched) {
  if (!instance) return;
  if (const auto* path_field = instance->if_contains("path"); path_field && *path_field != json::value(path)) {
    return;  // the instance was indexed from another file (or created through the API)
  }
  const ObjectId series_id = *ObjectId::Parse(instance->at("series_id").as_string());
  session.Remove(Kind::kInstances, IdOf(*instance));
  if (const auto created = created_series_.find(series_id); created != created_series_.end()) {
    created->second.erase(IdOf(*instance));
  }
  if (const auto created = created_geometry_.find(series_id); created != created_geometry_.end()) {
    created->second.erase(IdOf(*instance));
  }
  if (const auto* uid = instance->if_contains("series_instance_uid"); uid != nullptr && uid->is_string()) {
    if (const auto created = created_slices_.find(std::string(uid->as_string())); created != created_slices_.end()) {
      created->second.erase(IdOf(*instance));
    }
  }
  ++summary_.instances.removed;
  touched.series.insert(series_id);
  touched.emptied_series.insert(series_id);
  if (const auto* uid = instance->if_contains("series_instance_uid"); uid != nullptr && uid->is_string()) {
    annotation_series_.insert(std::string(uid->as_string()));
  }
}

// The instance ids of the series this run created, in the store's order, when no two share an instance_number.
std::optional<std::vector<ObjectId>> BatchWriter::KnownInstances(const ObjectId& series_id) const {
  const auto created = created_series_.find(series_id);
  if (created == created_series_.end()) return std::nullopt;
  std::vector<std::pair<std::optional<std::int64_t>, ObjectId>> ordered;
  ordered.reserve(created->second.size());
  for (const auto& [id, number] : created->second) ordered.emplace_back(number, id);
  std::sort(ordered.begin(), ordered.end());
  for (std::size_t i = 1; i < ordered.size(); ++i) {
    if (ordered[i].first == ordered[i - 1].first) return std::nullopt;
  }
  std::vector<ObjectId> ids;
  ids.reserve(ordered.size());
  for (const auto& [number, id] : ordered) ids.push_back(id);
  return ids;
}

// The series of a study this run created, in the store's order (series_number, then id), when no two share a number.
std::optional<std::vector<json::object>> BatchWriter::KnownSeries(const ObjectId& study_id) const {
  const auto created = created_studies_.find(study_id);
  if (created == created_studies_.end()) return std::nullopt;
  std::vector<std::pair<std::int64_t, const json::object*>> ordered;
  for (const auto& [id, fields] : created->second) {
    const auto* number = fields.if_contains("series_number");
    if (number == nullptr || !number->is_int64()) return std::nullopt;  // the store's ordering of those decides
    ordered.emplace_back(number->as_int64(), &fields);
  }
  std::sort(ordered.begin(), ordered.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : a.second->at("_id").as_string() < b.second->at("_id").as_string();
  });
  for (std::size_t i = 1; i < ordered.size(); ++i) {
    if (ordered[i].first == ordered[i - 1].first) return std::nullopt;
  }
  std::vector<json::object> series;
  series.reserve(ordered.size());
  for (const auto& [number, fields] : ordered) series.push_back(*fields);
  return series;
}

void BatchWriter::FinishTouched(Session& session, Touched& touched) {
  // The other touched series' instances in one request: a server back-end may have to scan for them.
  std::map<ObjectId, std::vector<ObjectId>> instances;
  std::vector<ObjectId> unknown;
  for (const ObjectId& series_id : touched.series) {
    if (auto known = KnownInstances(series_id)) {
      instances.emplace(series_id, std::move(*known));
    } else if (created_geometry_.contains(series_id)) {
      unknown.push_back(series_id);
    }  // else read below with the instances' documents
  }
  if (!unknown.empty()) instances.merge(session.ChildIdsOf(Kind::kInstances, unknown));
  for (const ObjectId& series_id : touched.series) {
    auto series = session.Get(Kind::kSeries, series_id);
    if (!series) continue;
    const ObjectId study_id = *ObjectId::Parse(series->at("study_id").as_string());
    std::vector<ObjectId>& instance_ids = instances[series_id];
    // The geometry of every instance for series.qc: kept for the series this run created, read for the others.
    std::vector<catalog::SliceGeometry> slices;
    if (const auto known = created_geometry_.find(series_id); known != created_geometry_.end()) {
      slices.reserve(known->second.size());
      for (const auto& [id, geometry] : known->second) slices.push_back(geometry);
    } else {
      instance_ids.clear();  // read with the documents, in the same order
      for (const json::object& instance : session.Children(Kind::kInstances, series_id)) {
        instance_ids.push_back(IdOf(instance));
        slices.push_back(catalog::GeometryOf(instance));
      }
    }
    if (touched.emptied_series.contains(series_id) && instance_ids.empty()) {
      catalog::UnlinkAnnotations(session, series_id);
      session.Remove(Kind::kSeries, series_id);
      if (auto created = created_studies_.find(study_id); created != created_studies_.end()) {
        created->second.erase(series_id);
      }
      ++summary_.series.removed;
      touched.emptied_studies.insert(study_id);
    } else if (catalog::RefreshSeries(session, series_id, instance_ids, slices) &&
               !series_inserted_.contains(series_id)) {
      series_updated_.insert(series_id);
    }
    touched.studies.insert(study_id);
  }
  for (const ObjectId& study_id : touched.studies) {
    std::optional<std::vector<json::object>> series = KnownSeries(study_id);
    if (!series) series = session.Children(Kind::kSeries, study_id);
    if (touched.emptied_studies.contains(study_id) && series->empty()) {
      if (session.Remove(Kind::kStudies, study_id)) ++summary_.studies.removed;
      created_studies_.erase(study_id);
    } else if (catalog::RefreshStudy(session, study_id, *series) && !studies_inserted_.contains(study_id)) {
      studies_updated_.insert(study_id);
    }
  }
  if (collection_id_ && !touched.cases.empty()) {
    UpdateCases(session, touched.cases);
    for (auto& [patient, accessions] : touched.cases) run_cases_[patient].insert(accessions.begin(), accessions.end());
  }
}

// Records a case per patient in the --collection: {case_id, patient_id, accession_numbers[]}.
void BatchWriter::UpdateCases(Session& session, const std::map<std::string, std::set<std::string>>& patients) {
  // Every shard's ingest merges its cases into the same document: compare-and-swap, merging again on a lost race.
  constexpr int kAttempts = 16;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    auto collection = session.Get(Kind::kCollections, *collection_id_);
    if (!collection) return;
    json::object doc = MergeCases(*collection, patients);
    if (catalog::PutIfStillStored(session, Kind::kCollections, doc, *collection)) return;
  }
  throw Error(Errc::kUnavailable, "the collection's cases keep changing under this ingest; run it again");
}

json::object BatchWriter::MergeCases(const json::object& collection,
                                     const std::map<std::string, std::set<std::string>>& patients) {
  json::object doc = collection;
  json::value& cases_value = doc["cases"];
  if (!cases_value.is_array()) cases_value = json::array{};
  json::array& cases = cases_value.as_array();
  for (const auto& [patient, accessions] : patients) {
    auto found = std::find_if(cases.begin(), cases.end(), [&](const json::value& entry) {
      return entry.is_object() && StringField(entry.as_object(), "patient_id") == patient;
    });
    if (found == cases.end()) {
      cases.emplace_back(json::object{{"case_id", patient}, {"patient_id", patient}, {"accession_numbers", json::array{}}});
      found = cases.end() - 1;
    }
    json::object& entry = found->as_object();
    for (const std::string& accession : accessions) AddUnique(entry, "accession_numbers", accession);
    auto& list = entry["accession_numbers"].as_array();
    std::sort(list.begin(), list.end(), [](const json::value& a, const json::value& b) {
      return a.is_string() && b.is_string() && a.as_string() < b.as_string();
    });
  }
  return doc;
}

void BatchWriter::RemoveDisappeared(const std::vector<FileRecord>& gone) {
  constexpr std::size_t kChunk = 2000;
  for (std::size_t begin = 0; begin < gone.size(); begin += kChunk) {
    const std::size_t end = std::min(gone.size(), begin + kChunk);
    store_.Write([&](Session& session) {
      Touched touched;
      // The chunk's instances in one request (a server back-end's round trips).
      std::vector<std::string> sops;
      for (std::size_t i = begin; i < end; ++i) {
        if (Provides(gone[i].status) && !gone[i].sop_instance_uid.empty()) sops.push_back(gone[i].sop_instance_uid);
      }
      std::map<std::string, json::object> instances;
      for (json::object& doc : session.GetByKeys(Kind::kInstances, sops)) {
        std::string sop = StringField(doc, "sop_instance_uid");
        instances.emplace(std::move(sop), std::move(doc));
      }
      std::vector<std::string> read_paths;
      for (std::size_t i = begin; i < end; ++i) {
        if (gone[i].status == "annotations") read_paths.push_back(gone[i].path);
      }
      const auto stored_marks = StoredMarksOf(session, read_paths);
      for (std::size_t i = begin; i < end; ++i) {
        if (Provides(gone[i].status) && !gone[i].sop_instance_uid.empty()) {
          auto instance = instances.extract(gone[i].sop_instance_uid);
          DropInstance(session, gone[i].path,
                       instance ? std::optional<json::object>(std::move(instance.mapped())) : std::nullopt, touched);
        }
        if (gone[i].status == "annotations") {
          const auto stored = stored_marks.find(gone[i].path);
          if (stored != stored_marks.end()) {
            ReplaceFileAnnotations(session, gone[i].path, nullptr, stored->second, annotation_series_);
          }
        }
        session.RemoveFileRecord(gone[i].path);
        written_.Remove(gone[i].path);
        session.ClearError(gone[i].path);
      }
      FinishTouched(session, touched);
    });
    summary_.disappeared += static_cast<std::int64_t>(end - begin);
  }
}

std::vector<extractor::WalkEntry> BatchWriter::OrphanedDuplicates() {
  Flush();
  std::vector<extractor::WalkEntry> orphaned;
  if (duplicates_.empty()) return orphaned;
  store_.Read([&](Session& session) {
    for (auto& [entry, sop] : duplicates_) {
      const std::optional<Document> instance = session.GetByKey(Kind::kInstances, sop);
      if (!instance || HolderOf(session, instance, entry.path).empty()) {
        readded_.insert(entry.path);
        orphaned.push_back(std::move(entry));
      }
    }
  });
  duplicates_.clear();
  return orphaned;
}

void BatchWriter::Finish() {
  // The run's cases once more, merged into the collection as it is now: another ingest (a shard on another machine)
  // may have rewritten the case list since this run's batches merged theirs, and no server-side transaction guards
  // the read-modify-write of one collection document.
  if (collection_id_ && !run_cases_.empty()) store_.Write([&](Session& session) { UpdateCases(session, run_cases_); });
  for (std::string& warning : store_.TakeWarnings()) summary_.warnings.push_back(std::move(warning));
  auto fill = [](LevelCounts& counts, const std::set<ObjectId>& inserted, const std::set<ObjectId>& updated,
                 const std::set<ObjectId>& seen) {
    counts.inserted = static_cast<std::int64_t>(inserted.size());
    counts.updated = static_cast<std::int64_t>(updated.size());
    counts.unchanged = std::count_if(seen.begin(), seen.end(),
                                     [&](const ObjectId& id) { return !inserted.contains(id) && !updated.contains(id); });
  };
  fill(summary_.studies, studies_inserted_, studies_updated_, studies_seen_);
  fill(summary_.series, series_inserted_, series_updated_, series_seen_);
}

}  // namespace meta_db::driver
