// Job resolution: chunked look-ups, the per-identifier report, totals, snapshots, changes and linking.
#include "catalog/job_resolution.hpp"

#include "catalog/catalog.hpp"
#include "catalog/collection_links.hpp"
#include "catalog/record_io.hpp"
#include "common/clock.hpp"
#include "common/error.hpp"
#include "common/stable_hash.hpp"

#include <boost/json/array.hpp>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

namespace meta_db::catalog {

namespace json = boost::json;

namespace {

constexpr std::size_t kEntriesPerRecord = 1000;
constexpr std::size_t kUidsPerRecord = 5000;
constexpr std::size_t kMaxNewlyMatchedListed = 1000;  // the job document lists this many; the report has them all

struct Entry {
  std::string identifier;
  std::string_view type;  // accession_number | patient_id | study_instance_uid
};

struct StudyRef {
  std::string patient, accession;
  std::vector<std::string> series;  // series ids
};

struct SeriesRef {
  std::string uid;
  std::int64_t instances = 0;
};

std::string Text(const Document& doc, std::string_view field) {
  const auto* value = doc.if_contains(field);
  return value != nullptr && value->is_string() ? std::string(value->as_string()) : std::string();
}

std::vector<std::string> Strings(const Document& doc, std::string_view field) {
  std::vector<std::string> out;
  if (const auto* array = doc.if_contains(field); array != nullptr && array->is_array()) {
    for (const auto& item : array->as_array()) {
      if (item.is_string()) out.emplace_back(item.as_string());
    }
  }
  return out;
}

constexpr std::string_view kTypes[] = {"accession_number", "patient_id", "study_instance_uid"};
constexpr std::string_view kLists[] = {"accession_numbers", "patient_ids", "study_instance_uids"};

// What the look-ups found, kept in memory (bounded by the identifiers: at most kMaxJobIdentifiers).
struct Found {
  std::map<std::string, StudyRef> studies;                                  // study id -> study
  std::map<std::string, std::vector<std::string>> by_value[std::size(kTypes)];  // identifier -> study ids
  std::map<std::string, SeriesRef> series;                                  // series id -> series
};

class Progress {
 public:
  Progress(const JobProgress& report, std::size_t steps) : report_(report), steps_(std::max<std::size_t>(1, steps)) {}
  void Step() {
    ++done_;
    if (report_ && !report_(static_cast<int>(std::min<std::size_t>(95, done_ * 95 / steps_)))) throw Abandoned{};
  }
  struct Abandoned {};

 private:
  const JobProgress& report_;
  std::size_t steps_, done_ = 0;
};

void LookUp(Store& store, const Document& job, Found& found, const JobProgress& report) {
  std::vector<json::array> chunks[std::size(kTypes)];
  std::size_t steps = 0;
  for (std::size_t t = 0; t < std::size(kTypes); ++t) {
    std::vector<std::string> values = Strings(job, kLists[t]);
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    chunks[t] = ChunkValues(values);
    steps += chunks[t].size();
  }
  Progress progress(report, steps + steps / 4 + 1);
  for (std::size_t t = 0; t < std::size(kTypes); ++t) {
    const std::string field(kTypes[t]);
    for (json::array& chunk : chunks[t]) {
      store.Read([&](Session& session) {
        VisitFound(session, Kind::kStudies, {{field, {{"$in", std::move(chunk)}}}},
                   {"patient_id", "accession_number", "study_instance_uid"}, [&](const Document& study) {
                     const std::string id = Text(study, "_id");
                     found.by_value[t][Text(study, field)].push_back(id);
                     StudyRef& ref = found.studies[id];
                     ref.patient = Text(study, "patient_id");
                     ref.accession = Text(study, "accession_number");
                   });
      });
      progress.Step();
    }
  }
  std::vector<std::string> study_ids;
  for (const auto& [id, study] : found.studies) study_ids.push_back(id);
  std::vector<json::array> series_chunks = ChunkValues(study_ids);
  for (std::size_t i = 0; i < series_chunks.size(); ++i) {
    store.Read([&](Session& session) {
      VisitFound(session, Kind::kSeries, {{"study_id", {{"$in", std::move(series_chunks[i])}}}},
                 {"study_id", "series_instance_uid", "num_instances"}, [&](const Document& series) {
                   const std::string id = Text(series, "_id");
                   SeriesRef& ref = found.series[id];
                   ref.uid = Text(series, "series_instance_uid");
                   if (const auto* n = series.if_contains("num_instances"); n != nullptr && n->is_number()) {
                     ref.instances = n->to_number<std::int64_t>();
                   }
                   found.studies[Text(series, "study_id")].series.push_back(id);
                 });
    });
    if (i % 4 == 3) progress.Step();
  }
}

// The report's entries, the studies to link, and the totals.
struct Outcome {
  json::array entries;
  std::set<std::string> linked_studies;
  std::int64_t matched = 0, missing = 0, ambiguous = 0;
  json::array unmatched;
};

Outcome Judge(const Document& job, const Found& found) {
  Outcome out;
  std::set<std::string> patients_named;
  for (const std::string& p : Strings(job, "patient_ids")) patients_named.insert(p);
  std::map<std::pair<std::size_t, std::string>, std::size_t> first_at;  // (type, identifier) -> position
  std::size_t position = 0;
  for (std::size_t t = 0; t < std::size(kTypes); ++t) {
    for (const std::string& identifier : Strings(job, kLists[t])) {
      ++position;
      json::object entry{{"identifier", identifier}, {"type", kTypes[t]}};
      const auto [seen, fresh] = first_at.emplace(std::make_pair(t, identifier), position);
      std::vector<std::string> studies;
      if (const auto it = found.by_value[t].find(identifier); it != found.by_value[t].end()) studies = it->second;
      std::set<std::string> patients;
      std::int64_t series = 0, instances = 0;
      for (const std::string& id : studies) {
        const StudyRef& study = found.studies.at(id);
        patients.insert(study.patient);
        series += static_cast<std::int64_t>(study.series.size());
        for (const std::string& s : study.series) instances += found.series.at(s).instances;
      }
      std::string patient_list;
      for (const std::string& p : patients) patient_list += (patient_list.empty() ? "" : ",") + p;
      std::string status = "matched", reason;
      if (!fresh) {
        status = "ambiguous";
        reason = "duplicate: the same " + std::string(kTypes[t]) + " is entry " + std::to_string(seen->second) +
                 " of the request";
      } else if (studies.empty()) {
        status = "missing";
        reason = "no stored study has this " + std::string(kTypes[t]);
      } else if (t == 0 && studies.size() > 1) {
        status = "ambiguous";
        reason = "carried by " + std::to_string(studies.size()) + " studies (patients " + patient_list + ")";
      } else if (t == 0 && !patients_named.empty() && !patients.begin()->empty() &&
                 !patients_named.contains(*patients.begin())) {
        status = "ambiguous";
        reason = "belongs to patient " + *patients.begin() + ", who is not among the job's patient_ids";
      }
      if (status == "matched") {
        ++out.matched;
        out.linked_studies.insert(studies.begin(), studies.end());
      } else if (status == "missing") {
        ++out.missing;
        out.unmatched.emplace_back(identifier);
      } else {
        ++out.ambiguous;
      }
      entry["status"] = status;
      entry["reason"] = reason;
      entry["patient_id"] = patient_list;
      entry["studies"] = static_cast<std::int64_t>(studies.size());
      entry["series"] = series;
      entry["instances"] = instances;
      out.entries.emplace_back(std::move(entry));
    }
  }
  return out;
}

std::string HashOf(const std::vector<std::string>& sorted_uids) {
  std::uint64_t hash = kStableHashSeed;
  for (const std::string& uid : sorted_uids) hash = StableHash("\n", StableHash(uid, hash));
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
  return text;
}

json::object JobFilter(const ObjectId& job, std::string_view part) { return {{"job_id", job.ToHex()}, {"part", part}}; }

// The previous resolution as recorded: matched identifiers (by type) and the snapshot's series UIDs.
struct Previous {
  bool exists = false;
  std::set<std::pair<std::string, std::string>> matched;  // (type, identifier)
  std::set<std::string> uids;
  std::int64_t snapshots = 0;
};

Previous ReadPrevious(CatalogSession& session, const ObjectId& job) {
  Previous previous;
  VisitRecords(session, JobFilter(job, "report"), [&](const Document& record) {
    previous.exists = true;
    for (const json::value& entry : record.at("entries").as_array()) {
      const auto& e = entry.as_object();
      if (e.at("status") == json::value("matched")) {
        previous.matched.emplace(e.at("type").as_string(), e.at("identifier").as_string());
      }
    }
  });
  VisitRecords(session, JobFilter(job, "snapshot_uids"), [&](const Document& record) {
    for (const json::value& uid : record.at("uids").as_array()) previous.uids.emplace(uid.as_string());
  });
  previous.snapshots = static_cast<std::int64_t>(FindAll(session, Kind::kJobRecords, JobFilter(job, "snapshot"), {"_id"}).size());
  return previous;
}

// The latest ingest run, as the audit log recorded it (its record's id), or null.
json::value LatestIngest(Session& session) {
  AuditQuery query;
  query.action = "ingest";
  query.limit = 1;
  const AuditPage page = session.FindAudit(query);
  if (page.records.empty()) return nullptr;
  return json::value(page.records.front().id);
}

// The job's collection: the one it names, else one made for it (named after the job).
ObjectId EnsureCollection(Session& session, Document& job) {
  if (const auto* id = job.if_contains("collection_id"); id != nullptr && id->is_string()) {
    if (auto parsed = ObjectId::Parse(id->as_string()); parsed && session.Get(Kind::kCollections, *parsed)) {
      return *parsed;
    }
  }
  const std::string job_id = Text(job, "_id");
  const std::string name = Text(job, "name") + " (job " + job_id + ")";
  // A resolution cut short after creating the collection (no multi-document transaction ties it to the job's
  // collection_id) finds it again by its name, which names the job.
  if (auto earlier = session.GetByKey(Kind::kCollections, name)) {
    job["collection_id"] = earlier->at("_id");
    return *ObjectId::Parse(earlier->at("_id").as_string());
  }
  Document collection{{"name", name},
                      {"description", "cases linked by job " + job_id},
                      {"cases", json::array{}}};
  if (auto researcher = session.GetByKey(Kind::kResearchers, Text(job, "researcher_id"))) {
    collection["owner_id"] = researcher->at("_id");
  }
  const Document stored = Create(session, Kind::kCollections, std::move(collection));
  job["collection_id"] = stored.at("_id");
  return *ObjectId::Parse(stored.at("_id").as_string());
}

// Collections the job has links in.
std::set<std::string> LinkedCollections(CatalogSession& session, const ObjectId& job) {
  std::set<std::string> collections;
  VisitFound(session, Kind::kJobRecords, JobFilter(job, "links"), {"collection_id"}, [&](const Document& record) {
    collections.insert(Text(record, "collection_id"));
  });
  return collections;
}

void WriteChunks(CatalogSession& session, const ObjectId& job, std::string_view part, std::string_view field,
                 const json::array& items, std::size_t per_record) {
  for (std::size_t start = 0, seq = 0; start < items.size(); start += per_record, ++seq) {
    json::array chunk;
    json::object counts{{"matched", 0}, {"missing", 0}, {"ambiguous", 0}};
    for (std::size_t i = start; i < std::min(items.size(), start + per_record); ++i) {
      chunk.push_back(items[i]);
      if (items[i].is_object()) {
        auto& n = counts[items[i].as_object().at("status").as_string()];
        n = n.to_number<std::int64_t>() + 1;
      }
    }
    Document record = JobFilter(job, part);
    record["seq"] = static_cast<std::int64_t>(seq);
    if (part == "report") record["counts"] = std::move(counts);
    record[field] = std::move(chunk);
    InsertRecord(session, std::move(record));
  }
}

}  // namespace

std::optional<Document> ResolveJob(Store& store, const ObjectId& id, const JobProgress& progress,
                                   bool only_when_changed) {
  Document job;
  bool exists = false;
  store.Read([&](Session& session) {
    if (auto stored = session.Get(Kind::kJobs, id)) {
      job = std::move(*stored);
      exists = true;
    }
  });
  if (!exists) return std::nullopt;
  Found found;
  try {
    LookUp(store, job, found, progress);
  } catch (const Progress::Abandoned&) {
    return std::nullopt;
  }
  const Outcome outcome = Judge(job, found);

  LinkSet wanted;
  std::vector<std::string> uids;
  std::int64_t instances = 0;
  for (const std::string& study_id : outcome.linked_studies) {
    const StudyRef& study = found.studies.at(study_id);
    wanted.studies.insert(study_id);
    auto& accessions = wanted.patients[study.patient];
    if (!study.accession.empty()) accessions.insert(study.accession);
    for (const std::string& series_id : study.series) {
      wanted.series.insert(series_id);
      uids.push_back(found.series.at(series_id).uid);
      instances += found.series.at(series_id).instances;
    }
  }
  std::sort(uids.begin(), uids.end());

  std::optional<Document> result;
  store.Write([&](Session& session) {
    auto current = session.Get(Kind::kJobs, id);
    if (!current) return;
    Document updated = std::move(*current);
    // Re-evaluation after an ingest that changed nothing of this cohort writes nothing: re-ingesting the same
    // archive changes no document.
    if (only_when_changed && Text(updated, "status") == "done") {
      const auto* old = updated.if_contains("snapshot");
      const auto* totals = updated.if_contains("totals");
      const auto same = [&](std::string_view key, std::int64_t value) {
        const auto* v = totals->as_object().if_contains(key);
        return v != nullptr && v->is_number() && v->to_number<std::int64_t>() == value;
      };
      if (old != nullptr && old->is_object() && totals != nullptr && totals->is_object() &&
          old->as_object().if_contains("hash") != nullptr && old->as_object().at("hash") == json::value(HashOf(uids)) &&
          same("matched", outcome.matched) && same("missing", outcome.missing) &&
          same("ambiguous", outcome.ambiguous) && same("instances", instances)) {
        result = std::move(updated);
        return;
      }
    }
    const Previous previous = ReadPrevious(session, id);
    const ObjectId collection = EnsureCollection(session, updated);
    for (const std::string& other : LinkedCollections(session, id)) {
      if (other != collection.ToHex()) ApplyLinks(session, *ObjectId::Parse(other), id, {});
    }
    ApplyLinks(session, collection, id, wanted);

    RemoveRecords(session, JobFilter(id, "report"));
    WriteChunks(session, id, "report", "entries", outcome.entries, kEntriesPerRecord);
    RemoveRecords(session, JobFilter(id, "snapshot_uids"));
    json::array uid_array;
    for (const std::string& uid : uids) uid_array.emplace_back(uid);
    WriteChunks(session, id, "snapshot_uids", "uids", uid_array, kUidsPerRecord);

    const std::set<std::string> now_uids(uids.begin(), uids.end());
    std::int64_t added = 0, removed = 0;
    for (const std::string& uid : now_uids) added += !previous.uids.contains(uid);
    for (const std::string& uid : previous.uids) removed += !now_uids.contains(uid);
    json::array newly_matched;
    if (previous.exists) {
      for (const json::value& entry : outcome.entries) {
        const auto& e = entry.as_object();
        if (e.at("status") != json::value("matched") || newly_matched.size() >= kMaxNewlyMatchedListed) continue;
        if (!previous.matched.contains({std::string(e.at("type").as_string()), std::string(e.at("identifier").as_string())})) {
          newly_matched.push_back(e.at("identifier"));
        }
      }
    }
    const std::string at = NowIsoUtc();
    const json::value ingest = LatestIngest(session);
    const std::string hash = HashOf(uids);
    Document snapshot_record = JobFilter(id, "snapshot");
    snapshot_record["seq"] = previous.snapshots;
    snapshot_record["hash"] = hash;
    snapshot_record["series"] = static_cast<std::int64_t>(uids.size());
    snapshot_record["at"] = at;
    snapshot_record["ingest"] = ingest;
    snapshot_record["added"] = added;
    snapshot_record["removed"] = removed;
    InsertRecord(session, std::move(snapshot_record));

    json::value since = nullptr;
    if (const auto* old = updated.if_contains("snapshot"); old != nullptr && old->is_object()) {
      if (const auto* old_at = old->as_object().if_contains("at")) since = *old_at;
    }
    std::set<std::string> patients;
    for (const std::string& study_id : outcome.linked_studies) patients.insert(found.studies.at(study_id).patient);
    updated["status"] = "done";
    updated["progress"] = 100;
    updated.erase("error");
    updated["matched"] = static_cast<std::int64_t>(outcome.linked_studies.size());
    updated["unmatched"] = outcome.unmatched;
    updated["totals"] = {{"identifiers", static_cast<std::int64_t>(outcome.entries.size())},
                         {"matched", outcome.matched},
                         {"missing", outcome.missing},
                         {"ambiguous", outcome.ambiguous},
                         {"patients", static_cast<std::int64_t>(patients.size())},
                         {"studies", static_cast<std::int64_t>(outcome.linked_studies.size())},
                         {"series", static_cast<std::int64_t>(uids.size())},
                         {"instances", instances}};
    updated["snapshot"] = {{"hash", hash}, {"series", static_cast<std::int64_t>(uids.size())}, {"at", at},
                           {"ingest", ingest}};
    updated["changes"] = {{"since", since},
                          {"newly_matched", std::move(newly_matched)},
                          {"series_added", previous.exists ? added : 0},
                          {"series_removed", previous.exists ? removed : 0}};
    PutIfChanged(session, Kind::kJobs, updated);
    result = session.Get(Kind::kJobs, id);
  });
  return result;
}

std::int64_t ReevaluateJobs(Store& store) {
  std::vector<ObjectId> ids;
  store.Read([&](Session& session) {
    VisitFound(session, Kind::kJobs, {{"status", "done"}}, {"_id"}, [&](const Document& job) {
      if (auto id = ObjectId::Parse(Text(job, "_id"))) ids.push_back(*id);
    });
  });
  std::int64_t resolved = 0;
  for (const ObjectId& id : ids) resolved += ResolveJob(store, id, {}, true).has_value();
  return resolved;
}

void UnlinkJob(CatalogSession& session, const Document& job) {
  const ObjectId id = *ObjectId::Parse(Text(job, "_id"));
  for (const std::string& collection : LinkedCollections(session, id)) {
    if (auto parsed = ObjectId::Parse(collection)) ApplyLinks(session, *parsed, id, {});
  }
  RemoveRecords(session, {{"job_id", id.ToHex()}});
}

ReportPage JobReport(CatalogSession& session, const ObjectId& job, std::string_view status, std::int64_t skip,
                     std::int64_t limit) {
  ReportPage page;
  std::vector<std::pair<std::string, std::int64_t>> records;  // id, entries of `status` in it
  VisitFound(session, Kind::kJobRecords, JobFilter(job, "report"), {"seq", "counts"}, [&](const Document& record) {
    std::int64_t n = 0;
    const auto& counts = record.at("counts").as_object();
    for (std::string_view s : {"matched", "missing", "ambiguous"}) {
      if (status.empty() || status == s) n += counts.at(s).to_number<std::int64_t>();
    }
    records.emplace_back(Text(record, "_id"), n);
  });
  for (const auto& [record_id, n] : records) {
    const std::int64_t before = page.total;
    page.total += n;
    if (page.total <= skip || n == 0) continue;
    if (limit >= 0 && static_cast<std::int64_t>(page.results.size()) >= limit) continue;
    auto record = session.Get(Kind::kJobRecords, *ObjectId::Parse(record_id));
    if (!record) continue;
    std::int64_t index = before;
    for (const json::value& entry : record->at("entries").as_array()) {
      if (!status.empty() && entry.as_object().at("status") != json::value(status)) continue;
      if (index++ < skip) continue;
      if (limit >= 0 && static_cast<std::int64_t>(page.results.size()) >= limit) break;
      page.results.push_back(entry.as_object());
    }
  }
  return page;
}

std::vector<Document> JobSnapshots(CatalogSession& session, const ObjectId& job) {
  std::vector<Document> snapshots;
  VisitFound(session, Kind::kJobRecords, JobFilter(job, "snapshot"),
             {"seq", "hash", "series", "at", "ingest", "added", "removed"}, [&](const Document& record) {
               Document out = record;
               out.erase("_id");
               snapshots.push_back(std::move(out));
             });
  // Ids order records of one process only: the server and an ingest run record snapshots within the same second.
  const auto seq_of = [](const Document& d) {
    const json::value* seq = d.if_contains("seq");
    return seq != nullptr && seq->is_int64() ? seq->as_int64() : std::int64_t{0};
  };
  std::stable_sort(snapshots.begin(), snapshots.end(),
                   [&](const Document& a, const Document& b) { return seq_of(a) < seq_of(b); });
  for (Document& s : snapshots) s.erase("seq");
  return snapshots;
}

}  // namespace meta_db::catalog
