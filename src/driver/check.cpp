// `meta_db check [--repair]`: a whole-catalogue pass over any store, collection by collection in pages.
#include "driver/check.hpp"

#include "catalog/catalog.hpp"
#include "driver/directory_digests.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include <map>
#include <set>

namespace meta_db::driver {

namespace {

namespace json = boost::json;

constexpr std::int64_t kPage = 1000;
constexpr std::size_t kParentsPerRequest = 500;

std::string Str(const Document& doc, std::string_view key) {
  const auto* value = doc.if_contains(key);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : std::string();
}

std::optional<ObjectId> IdAt(const Document& doc, std::string_view key) {
  const auto* value = doc.if_contains(key);
  if (value == nullptr || !value->is_string()) return std::nullopt;
  return ObjectId::Parse(value->as_string());
}

ObjectId IdOf(const Document& doc) { return *IdAt(doc, "_id"); }

json::array IdArray(const std::vector<ObjectId>& ids) {
  json::array out;
  for (const ObjectId& id : ids) out.emplace_back(id.ToHex());
  return out;
}

// What the pass keeps of each document: only what the invariants need.
struct SeriesFacts {
  std::optional<ObjectId> study_id;
  json::value instances, num_instances, qc;
  Document summary;
  Document qc_inputs;  // the series fields SeriesQc reads besides its instances
};

class Checker {
 public:
  Checker(Store& store, bool repair, const std::function<void(const std::string&)>& progress)
      : store_(store), repair_(repair), progress_(progress) {}

  CheckReport Run() {
    store_.Read([&](Session& session) {
      LoadCollections(session);
      LoadStudies(session);
      LoadSeries(session);
      LoadInstances(session);
      LoadPeople(session);
      LoadAnnotations(session);
      CheckChildren(session);
      CheckLedger(session);
    });
    if (repair_) Repair();
    return std::move(report_);
  }

 private:
  void Note(std::string invariant, Kind kind, const std::string& id, std::string detail) {
    report_.violations.push_back({std::move(invariant), std::string(CollectionName(kind)), id, std::move(detail)});
  }

  void Visit(Session& session, Kind kind, const std::function<void(const Document&)>& fn) {
    std::int64_t seen = 0;
    session.VisitAll(kind, kPage, [&](std::vector<Document>& docs) {
      for (const Document& doc : docs) fn(doc);
      seen += static_cast<std::int64_t>(docs.size());
      report_.documents += static_cast<std::int64_t>(docs.size());
      progress_(std::string(CollectionName(kind)) + ": " + std::to_string(seen));
    });
  }

  // collection_ids[] entries that name no collection.
  void CheckCollectionIds(Kind kind, const Document& doc) {
    const auto* ids = doc.if_contains("collection_ids");
    if (ids == nullptr || !ids->is_array()) return;
    for (const json::value& id : ids->as_array()) {
      const auto parsed = id.is_string() ? ObjectId::Parse(id.as_string()) : std::nullopt;
      if (!parsed || !collections_.contains(*parsed)) {
        Note("dangling collection_ids", kind, IdOf(doc).ToHex(), "names no collection: " + json::serialize(id));
        untag_[kind].insert(IdOf(doc));
      }
    }
  }

  void LoadCollections(Session& session) {
    Visit(session, Kind::kCollections, [&](const Document& doc) { collections_.insert(IdOf(doc)); });
  }

  void LoadStudies(Session& session) {
    Visit(session, Kind::kStudies, [&](const Document& doc) {
      const ObjectId id = IdOf(doc);
      const auto* series = doc.if_contains("series");
      study_series_[id] = series != nullptr ? *series : json::value(nullptr);
      CheckCollectionIds(Kind::kStudies, doc);
    });
  }

  void LoadSeries(Session& session) {
    Visit(session, Kind::kSeries, [&](const Document& doc) {
      const ObjectId id = IdOf(doc);
      SeriesFacts facts;
      facts.study_id = IdAt(doc, "study_id");
      if (const auto* v = doc.if_contains("instances")) facts.instances = *v;
      if (const auto* v = doc.if_contains("num_instances")) facts.num_instances = *v;
      facts.summary = catalog::SeriesSummary(doc);
      if (const auto* v = doc.if_contains("qc")) facts.qc = *v;
      if (const auto* metadata = doc.if_contains("metadata"); metadata != nullptr && metadata->is_object()) {
        Document inputs;
        for (std::string_view key : {"ConvolutionKernel", "ImageOrientationPatient", "PixelSpacing"}) {
          if (const auto* value = metadata->as_object().if_contains(key)) inputs[key] = *value;
        }
        facts.qc_inputs["metadata"] = std::move(inputs);
      }
      if (!facts.study_id || !study_series_.contains(*facts.study_id)) {
        Note("dangling study_id", Kind::kSeries, id.ToHex(), "its study " + Str(doc, "study_id") + " does not exist");
        orphans_[Kind::kSeries].insert(id);
      }
      CheckCollectionIds(Kind::kSeries, doc);
      series_.emplace(id, std::move(facts));
    });
  }

  void LoadInstances(Session& session) {
    Visit(session, Kind::kInstances, [&](const Document& doc) {
      const ObjectId id = IdOf(doc);
      const auto series = IdAt(doc, "series_id");
      if (!series || !series_.contains(*series) || orphans_[Kind::kSeries].contains(*series)) {
        Note("dangling series_id", Kind::kInstances, id.ToHex(),
             "its series " + Str(doc, "series_id") + " does not exist");
        orphans_[Kind::kInstances].insert(id);
      } else {
        geometry_[*series].push_back(catalog::GeometryOf(doc));
      }
      if (const std::string path = Str(doc, "path"); !path.empty()) provider_[Str(doc, "sop_instance_uid")] = path;
    });
  }

  void LoadPeople(Session& session) {
    std::map<std::string, std::vector<ObjectId>> jobs_of;  // researcher_id -> job ids, in _id order
    Visit(session, Kind::kJobs, [&](const Document& doc) {
      jobs_of[Str(doc, "researcher_id")].push_back(IdOf(doc));
      if (const auto* c = doc.if_contains("collection_id"); c != nullptr && !c->is_null()) {
        const auto parsed = c->is_string() ? ObjectId::Parse(c->as_string()) : std::nullopt;
        if (!parsed || !collections_.contains(*parsed)) {
          Note("dangling collection_id", Kind::kJobs, IdOf(doc).ToHex(), "names no collection: " + json::serialize(*c));
          untag_[Kind::kJobs].insert(IdOf(doc));
        }
      }
    });
    Visit(session, Kind::kResearchers, [&](const Document& doc) {
      std::vector<ObjectId> expected = jobs_of[Str(doc, "researcher_id")];
      std::set<ObjectId> want(expected.begin(), expected.end()), have;
      if (const auto* jobs = doc.if_contains("jobs"); jobs != nullptr && jobs->is_array()) {
        for (const json::value& job : jobs->as_array()) {
          if (const auto id = job.is_string() ? ObjectId::Parse(job.as_string()) : std::nullopt) have.insert(*id);
        }
      }
      if (want != have) {
        Note("researchers.jobs", Kind::kResearchers, IdOf(doc).ToHex(),
             "lists " + std::to_string(have.size()) + " jobs; " + std::to_string(want.size()) + " name it");
        researcher_jobs_[IdOf(doc)] = std::move(expected);
      }
    });
  }

  // LIDC marks name their series by UID and by id: an id naming no series (or another UID) is unlinked by repair,
  // and the next ingest links it again when its series is there (docs/annotations.md).
  void LoadAnnotations(Session& session) {
    Visit(session, Kind::kAnnotations, [&](const Document& doc) {
      const auto* series = doc.if_contains("series_id");
      if (series == nullptr || series->is_null()) return;
      const auto id = IdAt(doc, "series_id");
      if (!id || !series_.contains(*id)) {
        Note("dangling series_id", Kind::kAnnotations, IdOf(doc).ToHex(),
             "its series " + Str(doc, "series_id") + " does not exist");
        orphans_[Kind::kAnnotations].insert(IdOf(doc));
      }
    });
  }

  // Summaries and id lists against the children the store holds, in the catalogue's order (ChildIdsOf).
  void CheckChildren(Session& session) {
    std::vector<ObjectId> series_ids, study_ids;
    for (const auto& [id, facts] : series_) series_ids.push_back(id);
    for (const auto& [id, summary] : study_series_) study_ids.push_back(id);
    ForChunks(session, Kind::kInstances, series_ids, [&](const ObjectId& series, const std::vector<ObjectId>& ids) {
      const SeriesFacts& facts = series_.at(series);
      const json::value expected = IdArray(ids);
      const bool count_ok = facts.num_instances.is_number() &&
                            facts.num_instances.to_number<std::int64_t>() == static_cast<std::int64_t>(ids.size());
      if (facts.instances != expected || !count_ok) {
        Note("series.instances", Kind::kSeries, series.ToHex(),
             "instances[]/num_instances disagree with its " + std::to_string(ids.size()) + " instances");
        stale_series_.insert(series);
      }
      const auto geometry = geometry_.find(series);
      const json::value qc = catalog::SeriesQc(
          geometry != geometry_.end() ? geometry->second : std::vector<catalog::SliceGeometry>{}, facts.qc_inputs);
      if (facts.qc != qc) {
        Note("series.qc", Kind::kSeries, series.ToHex(), "qc disagrees with its instances' geometry");
        stale_series_.insert(series);
      }
    });
    ForChunks(session, Kind::kSeries, study_ids, [&](const ObjectId& study, const std::vector<ObjectId>& ids) {
      json::array expected;
      for (const ObjectId& id : ids) {
        if (const auto found = series_.find(id); found != series_.end()) expected.push_back(found->second.summary);
      }
      if (study_series_.at(study) != json::value(expected)) {
        Note("studies.series", Kind::kStudies, study.ToHex(), "series[] disagrees with its " +
                                                                  std::to_string(ids.size()) + " series");
        stale_studies_.insert(study);
      }
    });
  }

  void ForChunks(Session& session, Kind child, const std::vector<ObjectId>& parents,
                 const std::function<void(const ObjectId&, const std::vector<ObjectId>&)>& fn) {
    for (std::size_t begin = 0; begin < parents.size(); begin += kParentsPerRequest) {
      const std::vector<ObjectId> chunk(parents.begin() + static_cast<std::ptrdiff_t>(begin),
                                        parents.begin() + static_cast<std::ptrdiff_t>(
                                                              std::min(parents.size(), begin + kParentsPerRequest)));
      for (const auto& [parent, ids] : session.ChildIdsOf(child, chunk)) fn(parent, ids);
    }
  }

  void CheckLedger(Session& session) {
    std::set<std::string> registered;
    constexpr std::int64_t kErrorPage = 5000;
    for (std::int64_t skip = 0;; skip += kErrorPage) {
      const std::vector<ErrorRecord> errors = session.Errors(skip, kErrorPage);
      for (const ErrorRecord& error : errors) registered.insert(error.path);
      if (static_cast<std::int64_t>(errors.size()) < kErrorPage) break;
    }
    std::map<std::string, RecordDigest> digests;
    session.VisitFileRecords("", [&](const FileRecordView& record) {
      ++report_.documents;
      digests[std::string(DirectoryOf(record.path))].Add(record);
      if (record.status != "ok" && record.status != "skipped" && record.status != "annotations") {
        if (!registered.contains(std::string(record.path))) {
          report_.violations.push_back({"ledger errors", "ingest_files", std::string(record.path),
                                        "recorded as failed (" + std::string(record.status) +
                                            ") but missing from the error register"});
          stale_records_.push_back(std::string(record.path));
        }
        return;
      }
      if (record.status != "ok") return;
      const auto provider = provider_.find(std::string(record.sop_instance_uid));
      if (provider == provider_.end() || provider->second != record.path) {
        report_.violations.push_back({"ledger", "ingest_files", std::string(record.path),
                                      "recorded as indexed, but no instance names this file"});
        stale_records_.push_back(std::string(record.path));
      }
    });
    session.VisitDirectoryDigests("", [&](const DirectoryDigest& row) {
      if (!row.digest) return;
      const auto found = digests.find(std::string(row.directory));
      if (found == digests.end() || found->second.digest() != *row.digest) {
        report_.violations.push_back({"ledger digest", "ingest_dirs", std::string(row.directory),
                                      "the digest does not match the directory's file records"});
        stale_digests_.push_back(std::string(row.directory));
      }
    });
  }

  // Each repair in its own unit: any prefix of them leaves a catalogue a second run repairs further.
  void Repair() {
    auto count = [&](std::size_t n) { report_.repaired += static_cast<std::int64_t>(n); };
    store_.Write([&](Session& session) {
      for (const ObjectId& id : orphans_[Kind::kInstances]) session.Remove(Kind::kInstances, id);
      for (const ObjectId& id : orphans_[Kind::kSeries]) {
        for (const ObjectId& child : session.ChildIds(Kind::kInstances, id)) session.Remove(Kind::kInstances, child);
        session.Remove(Kind::kSeries, id);
        stale_series_.erase(id);
      }
    });
    count(orphans_[Kind::kInstances].size() + orphans_[Kind::kSeries].size());
    store_.Write([&](Session& session) {
      for (const ObjectId& id : orphans_[Kind::kAnnotations]) {
        if (auto doc = session.Get(Kind::kAnnotations, id)) {
          (*doc)["series_id"] = nullptr;
          (*doc)["study_id"] = nullptr;
          catalog::PutIfChanged(session, Kind::kAnnotations, std::move(*doc));
        }
      }
    });
    count(orphans_[Kind::kAnnotations].size());
    for (const auto& [kind, ids] : untag_) {
      store_.Write([&](Session& session) {
        for (const ObjectId& id : ids) {
          auto doc = session.Get(kind, id);
          if (!doc) continue;
          if (kind == Kind::kJobs) {
            doc->erase("collection_id");
          } else {
            json::array kept;
            for (const json::value& c : doc->at("collection_ids").as_array()) {
              const auto parsed = c.is_string() ? ObjectId::Parse(c.as_string()) : std::nullopt;
              if (parsed && collections_.contains(*parsed)) kept.push_back(c);
            }
            (*doc)["collection_ids"] = std::move(kept);
          }
          catalog::PutIfChanged(session, kind, std::move(*doc));
        }
      });
      count(ids.size());
    }
    store_.Write([&](Session& session) {
      for (const ObjectId& id : stale_series_) {
        catalog::RefreshSeries(session, id);
        if (const auto series = session.Get(Kind::kSeries, id)) {
          if (const auto study = IdAt(*series, "study_id")) stale_studies_.insert(*study);
        }
      }
      for (const ObjectId& id : stale_studies_) catalog::RefreshStudy(session, id);
      for (const auto& [id, jobs] : researcher_jobs_) {
        if (auto doc = session.Get(Kind::kResearchers, id)) {
          (*doc)["jobs"] = IdArray(jobs);
          catalog::PutIfChanged(session, Kind::kResearchers, std::move(*doc));
        }
      }
    });
    count(stale_series_.size() + stale_studies_.size() + researcher_jobs_.size());
    // The ledger last: a removed record makes the next ingest read its file again; a cleared digest makes it look at
    // each file of the directory.
    store_.Write([&](Session& session) {
      for (const std::string& path : stale_records_) session.RemoveFileRecord(path);
      for (const std::string& directory : stale_digests_) session.RemoveDirectoryDigest(directory);
    });
    count(stale_records_.size() + stale_digests_.size());
  }

  Store& store_;
  bool repair_;
  const std::function<void(const std::string&)>& progress_;
  CheckReport report_;
  std::set<ObjectId> collections_;
  std::map<ObjectId, json::value> study_series_;  // study -> its stored series[]
  std::map<ObjectId, SeriesFacts> series_;
  std::map<ObjectId, std::vector<catalog::SliceGeometry>> geometry_;  // series -> its instances' geometry
  std::map<std::string, std::string> provider_;  // SOP Instance UID -> the file its instance names
  std::map<Kind, std::set<ObjectId>> orphans_, untag_;
  std::set<ObjectId> stale_series_, stale_studies_;
  std::map<ObjectId, std::vector<ObjectId>> researcher_jobs_;
  std::vector<std::string> stale_records_, stale_digests_;
};

}  // namespace

json::object CheckReport::ToJson(std::size_t max_listed) const {
  json::object counts;
  for (const Violation& v : violations) {
    auto& n = counts[v.invariant];
    n = (n.is_int64() ? n.as_int64() : 0) + 1;
  }
  json::array listed;
  for (std::size_t i = 0; i < violations.size() && i < max_listed; ++i) {
    const Violation& v = violations[i];
    listed.push_back(json::object{{"invariant", v.invariant}, {"collection", v.collection}, {"id", v.id},
                                  {"detail", v.detail}});
  }
  return {{"checked", documents},
          {"violations", static_cast<std::int64_t>(violations.size())},
          {"by_invariant", std::move(counts)},
          {"listed", std::move(listed)},
          {"repaired", repaired}};
}

CheckReport Check(Store& store, bool repair, const std::function<void(const std::string&)>& progress) {
  return Checker(store, repair, progress).Run();
}

}  // namespace meta_db::driver
