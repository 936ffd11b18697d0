// Collection links by source (jobs, manual): tagging, untagging, cases, and the collection's summary.
#include "catalog/collection_links.hpp"

#include "catalog/catalog.hpp"
#include "catalog/record_io.hpp"
#include "common/error.hpp"

#include <boost/json/array.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace meta_db::catalog {

namespace json = boost::json;

namespace {

constexpr std::size_t kIdsPerRecord = 5000;

std::string Hex(const ObjectId& id) { return id.ToHex(); }

json::object SourceFilter(const ObjectId& collection, const std::optional<ObjectId>& job_id) {
  json::object filter{{"collection_id", Hex(collection)}};
  if (job_id) {
    filter["part"] = "links";
    filter["job_id"] = Hex(*job_id);
  } else {
    filter["part"] = "manual";
  }
  return filter;
}

void WriteLinks(CatalogSession& session, const ObjectId& collection, const std::optional<ObjectId>& job_id,
                const LinkSet& links) {
  RemoveRecords(session, SourceFilter(collection, job_id));
  auto write = [&](std::string_view target, json::array items) {
    for (std::size_t start = 0, seq = 0; start < items.size(); start += kIdsPerRecord, ++seq) {
      json::array chunk;
      for (std::size_t i = start; i < std::min(items.size(), start + kIdsPerRecord); ++i) chunk.push_back(items[i]);
      Document record = SourceFilter(collection, job_id);
      record["target"] = target;
      record["seq"] = static_cast<std::int64_t>(seq);
      record["ids"] = std::move(chunk);
      InsertRecord(session, std::move(record));
    }
  };
  json::array studies, series, patients;
  for (const std::string& id : links.studies) studies.emplace_back(id);
  for (const std::string& id : links.series) series.emplace_back(id);
  for (const auto& [patient, accessions] : links.patients) {
    json::array acc;
    for (const std::string& a : accessions) acc.emplace_back(a);
    patients.emplace_back(json::object{{"patient_id", patient}, {"accession_numbers", std::move(acc)}});
  }
  write("studies", std::move(studies));
  write("series", std::move(series));
  write("patients", std::move(patients));
}

void Merge(LinkSet& into, const LinkSet& from) {
  into.studies.insert(from.studies.begin(), from.studies.end());
  into.series.insert(from.series.begin(), from.series.end());
  for (const auto& [patient, accessions] : from.patients) into.patients[patient].insert(accessions.begin(), accessions.end());
}

// Every other job's links in the collection, merged.
LinkSet OtherJobsLinks(CatalogSession& session, const ObjectId& collection, const std::optional<ObjectId>& job_id) {
  LinkSet others;
  std::set<std::string> jobs;
  VisitRecords(session, {{"collection_id", Hex(collection)}, {"part", "links"}}, [&](const Document& record) {
    const auto* job = record.if_contains("job_id");
    if (job == nullptr || !job->is_string()) return;
    if (job_id && job->as_string() == Hex(*job_id)) return;
    jobs.emplace(job->as_string());
  });
  for (const std::string& job : jobs) Merge(others, ReadLinks(session, collection, ObjectId::Parse(job)));
  return others;
}

std::set<std::string> Minus(const std::set<std::string>& a, const std::set<std::string>& b) {
  std::set<std::string> out;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(), std::inserter(out, out.end()));
  return out;
}

bool Carries(const Document& doc, const std::string& tag) {
  const auto* ids = doc.if_contains("collection_ids");
  if (ids == nullptr || !ids->is_array()) return false;
  return std::any_of(ids->as_array().begin(), ids->as_array().end(),
                     [&](const json::value& v) { return v.is_string() && v.as_string() == tag; });
}

// Adds (or removes) the collection's id in collection_ids[] of the documents `ids`; returns the ids that carried it
// already (when adding).
std::set<std::string> Tag(CatalogSession& session, Kind kind, const std::set<std::string>& ids, const ObjectId& collection,
                          bool add) {
  const std::string tag = Hex(collection);
  std::set<std::string> already;
  const std::vector<std::string> list(ids.begin(), ids.end());
  for (json::array& chunk : ChunkValues(list)) {
    std::vector<Document> docs = FindAll(session, kind, {{"_id", {{"$in", std::move(chunk)}}}});
    for (Document& doc : docs) {
      const std::optional<Document> stored = doc;
      const bool carries = Carries(doc, tag);
      if (add && carries) {
        already.emplace(doc.at("_id").as_string());
        continue;
      }
      if (!add && !carries) continue;
      json::array kept;
      if (const auto* old = doc.if_contains("collection_ids"); old != nullptr && old->is_array()) {
        for (const json::value& v : old->as_array()) {
          if (!(v.is_string() && v.as_string() == tag)) kept.push_back(v);
        }
      }
      if (add) kept.emplace_back(tag);
      doc["collection_ids"] = std::move(kept);
      PutIfChanged(session, kind, doc, stored);
    }
  }
  return already;
}

std::string CaseId(const json::value& item) {
  if (!item.is_object()) return {};
  const auto* id = item.as_object().if_contains("case_id");
  return id != nullptr && id->is_string() ? std::string(id->as_string()) : std::string();
}

// Rewrites the collection's cases for `patients`: the union of every source's accession numbers, a patient no
// source links any more loses the case the sources made.
void UpdateCases(CatalogSession& session, const ObjectId& collection, const std::set<std::string>& touched,
                 const LinkSet& all) {
  if (touched.empty()) return;
  auto stored = session.Get(Kind::kCollections, collection);
  if (!stored) return;
  json::array cases;
  if (const auto* old = stored->if_contains("cases"); old != nullptr && old->is_array()) cases = old->as_array();
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < cases.size(); ++i) index.emplace(CaseId(cases[i]), i);
  std::vector<bool> drop(cases.size(), false);
  bool changed = false;
  for (const std::string& patient : touched) {
    const auto wanted = all.patients.find(patient);
    const auto at = index.find(patient);
    if (wanted == all.patients.end()) {
      if (at != index.end()) {
        drop[at->second] = true;
        changed = true;
      }
      continue;
    }
    json::array accessions;
    for (const std::string& a : wanted->second) accessions.emplace_back(a);
    json::object item{{"case_id", patient}, {"patient_id", patient}, {"accession_numbers", std::move(accessions)}};
    if (at == index.end()) {
      cases.emplace_back(std::move(item));
      changed = true;
    } else if (cases[at->second] != json::value(item)) {
      cases[at->second] = std::move(item);
      changed = true;
    }
  }
  if (!changed) return;
  json::array kept;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    if (i >= drop.size() || !drop[i]) kept.push_back(std::move(cases[i]));
  }
  Document doc = *stored;
  doc["cases"] = std::move(kept);
  PutIfChanged(session, Kind::kCollections, doc, stored);
}

// Accession numbers of existing cases, keyed by case id.
std::map<std::string, std::set<std::string>> ExistingCases(CatalogSession& session, const ObjectId& collection) {
  std::map<std::string, std::set<std::string>> out;
  auto stored = session.Get(Kind::kCollections, collection);
  if (!stored) return out;
  if (const auto* cases = stored->if_contains("cases"); cases != nullptr && cases->is_array()) {
    for (const json::value& item : cases->as_array()) {
      const std::string id = CaseId(item);
      if (id.empty()) continue;
      auto& accessions = out[id];
      if (const auto* a = item.as_object().if_contains("accession_numbers"); a != nullptr && a->is_array()) {
        for (const json::value& v : a->as_array()) {
          if (v.is_string()) accessions.emplace(v.as_string());
        }
      }
    }
  }
  return out;
}

}  // namespace

std::vector<json::array> ChunkValues(const std::vector<std::string>& values) {
  constexpr std::size_t kItems = 500, kBytes = 24 * 1024;
  std::vector<json::array> chunks;
  std::size_t bytes = 0;
  for (const std::string& value : values) {
    if (chunks.empty() || chunks.back().size() >= kItems || bytes + value.size() > kBytes) {
      chunks.emplace_back();
      bytes = 0;
    }
    chunks.back().emplace_back(value);
    bytes += value.size() + 4;
  }
  return chunks;
}

LinkSet ReadLinks(CatalogSession& session, const ObjectId& collection, const std::optional<ObjectId>& job_id) {
  LinkSet links;
  VisitRecords(session, SourceFilter(collection, job_id), [&](const Document& record) {
    const auto* target = record.if_contains("target");
    const auto* ids = record.if_contains("ids");
    if (target == nullptr || !target->is_string() || ids == nullptr || !ids->is_array()) return;
    for (const json::value& id : ids->as_array()) {
      if (target->as_string() == "studies" && id.is_string()) links.studies.emplace(id.as_string());
      if (target->as_string() == "series" && id.is_string()) links.series.emplace(id.as_string());
      if (target->as_string() == "patients" && id.is_object()) {
        const auto* patient = id.as_object().if_contains("patient_id");
        if (patient == nullptr || !patient->is_string()) continue;
        auto& accessions = links.patients[std::string(patient->as_string())];
        if (const auto* a = id.as_object().if_contains("accession_numbers"); a != nullptr && a->is_array()) {
          for (const json::value& v : a->as_array()) {
            if (v.is_string()) accessions.emplace(v.as_string());
          }
        }
      }
    }
  });
  return links;
}

void ApplyLinks(CatalogSession& session, const ObjectId& collection, const std::optional<ObjectId>& job_id,
                const LinkSet& wanted) {
  const LinkSet old = ReadLinks(session, collection, job_id);
  const LinkSet others = OtherJobsLinks(session, collection, job_id);
  LinkSet manual = job_id ? ReadLinks(session, collection, std::nullopt) : LinkSet{};
  bool manual_changed = false;
  LinkSet keep = others;  // what another source links
  if (job_id) Merge(keep, manual);

  // New links: what already carried the tag without any source (hand tags, ingest --collection) becomes manual.
  auto add = [&](Kind kind, const std::set<std::string>& want, const std::set<std::string>& had,
                 const std::set<std::string>& kept, std::set<std::string>& manual_side) {
    const std::set<std::string> fresh = Minus(want, had);
    for (const std::string& id : Tag(session, kind, fresh, collection, true)) {
      if (job_id && !kept.contains(id) && manual_side.insert(id).second) manual_changed = true;
    }
  };
  add(Kind::kStudies, wanted.studies, old.studies, keep.studies, manual.studies);
  add(Kind::kSeries, wanted.series, old.series, keep.series, manual.series);
  // Gone links: untagged unless another source keeps them.
  Tag(session, Kind::kStudies, Minus(Minus(old.studies, wanted.studies), keep.studies), collection, false);
  Tag(session, Kind::kSeries, Minus(Minus(old.series, wanted.series), keep.series), collection, false);

  // Cases: a case that exists without any source is adopted by the manual links, so that no job removes it.
  std::set<std::string> touched;
  const auto existing = ExistingCases(session, collection);
  for (const auto& [patient, accessions] : wanted.patients) {
    touched.insert(patient);
    const auto found = existing.find(patient);
    if (job_id && found != existing.end() && !old.patients.contains(patient) && !keep.patients.contains(patient) &&
        !manual.patients.contains(patient)) {
      manual.patients[patient] = found->second;
      manual_changed = true;
    }
  }
  for (const auto& [patient, accessions] : old.patients) touched.insert(patient);
  LinkSet all = job_id ? others : LinkSet{};
  if (job_id) Merge(all, manual);
  Merge(all, wanted);
  if (!job_id) Merge(all, others);
  UpdateCases(session, collection, touched, all);

  WriteLinks(session, collection, job_id, wanted);
  if (manual_changed) WriteLinks(session, collection, std::nullopt, manual);
}

void LinkCases(CatalogSession& session, const ObjectId& collection, const json::array& cases) {
  std::vector<std::string> patients, accessions;
  for (const json::value& item : cases) {
    if (!item.is_object()) continue;
    const auto& c = item.as_object();
    if (const auto* p = c.if_contains("patient_id"); p != nullptr && p->is_string()) {
      patients.emplace_back(p->as_string());
    }
    if (const auto* a = c.if_contains("accession_numbers"); a != nullptr && a->is_array()) {
      for (const json::value& v : a->as_array()) {
        if (v.is_string()) accessions.emplace_back(v.as_string());
      }
    }
  }
  LinkSet manual = ReadLinks(session, collection, std::nullopt);
  LinkSet found;
  auto look = [&](std::string_view field, const std::vector<std::string>& values) {
    for (json::array& chunk : ChunkValues(values)) {
      for (const Document& study : FindAll(session, Kind::kStudies, {{field, {{"$in", std::move(chunk)}}}},
                                           {"_id"})) {
        found.studies.emplace(study.at("_id").as_string());
      }
    }
  };
  look("patient_id", patients);
  look("accession_number", accessions);
  const std::vector<std::string> study_ids(found.studies.begin(), found.studies.end());
  for (json::array& chunk : ChunkValues(study_ids)) {
    for (const Document& series : FindAll(session, Kind::kSeries, {{"study_id", {{"$in", std::move(chunk)}}}},
                                          {"_id"})) {
      found.series.emplace(series.at("_id").as_string());
    }
  }
  Tag(session, Kind::kStudies, found.studies, collection, true);
  Tag(session, Kind::kSeries, found.series, collection, true);
  const std::size_t before = manual.studies.size() + manual.series.size();
  Merge(manual, found);
  if (manual.studies.size() + manual.series.size() != before) WriteLinks(session, collection, std::nullopt, manual);
}

void RelinkCollections(Store& store) {
  std::vector<ObjectId> collections;
  store.Read([&](Session& session) {
    VisitFound(session, Kind::kCollections, {}, {"_id"}, [&](const Document& doc) {
      if (auto id = ObjectId::Parse(doc.at("_id").as_string())) collections.push_back(*id);
    });
  });
  for (const ObjectId& collection : collections) {
    store.Write([&](Session& session) {
      const auto stored = session.Get(Kind::kCollections, collection);
      if (!stored) return;
      const auto* cases = stored->if_contains("cases");
      if (cases == nullptr || !cases->is_array() || cases->as_array().empty()) return;
      const LinkSet jobs = OtherJobsLinks(session, collection, std::nullopt);
      json::array hand;
      for (const json::value& item : cases->as_array()) {
        if (!jobs.patients.contains(CaseId(item))) hand.push_back(item);
      }
      if (!hand.empty()) LinkCases(session, collection, hand);
    });
  }
}

Document CollectionSummary(CatalogSession& session, const ObjectId& collection) {
  const std::string tag = Hex(collection);
  const auto stored = session.Get(Kind::kCollections, collection);
  if (!stored) throw Error(Errc::kNotFound, "collections " + tag + " not found");
  std::int64_t cases = 0;
  if (const auto* c = stored->if_contains("cases"); c != nullptr && c->is_array()) {
    cases = static_cast<std::int64_t>(c->as_array().size());
  }
  std::set<std::string> patients;
  std::int64_t studies = 0;
  VisitFound(session, Kind::kStudies, {{"collection_ids", tag}}, {"patient_id"}, [&](const Document& study) {
    ++studies;
    if (const auto* p = study.if_contains("patient_id"); p != nullptr && p->is_string()) patients.emplace(p->as_string());
  });
  struct Tally {
    std::int64_t series = 0, instances = 0;
  };
  std::map<std::string, std::map<std::string, Tally>> breakdowns;
  const std::pair<const char*, const char*> kBreakdowns[] = {{"modality", "modality"},
                                                             {"manufacturer", "metadata.Manufacturer"},
                                                             {"kernel", "metadata.ConvolutionKernel"},
                                                             {"slice_thickness", "metadata.SliceThickness"}};
  std::int64_t series = 0, instances = 0;
  VisitFound(session, Kind::kSeries, {{"collection_ids", tag}},
             {"modality", "metadata.Manufacturer", "metadata.ConvolutionKernel", "metadata.SliceThickness",
              "num_instances"},
             [&](const Document& doc) {
               ++series;
               std::int64_t n = 0;
               if (const auto* v = doc.if_contains("num_instances"); v != nullptr && v->is_number()) {
                 n = v->to_number<std::int64_t>();
               }
               instances += n;
               for (const auto& [name, path] : kBreakdowns) {
                 const json::value* value = AtPath(doc, path);
                 std::string key = "(none)";
                 if (value != nullptr && value->is_string()) key = value->as_string();
                 if (value != nullptr && value->is_number()) {
                   char text[32];
                   std::snprintf(text, sizeof text, "%g", value->to_number<double>());
                   key = text;
                 }
                 Tally& tally = breakdowns[name][key];
                 ++tally.series;
                 tally.instances += n;
               }
             });
  json::object out_breakdowns;
  for (const auto& [name, path] : kBreakdowns) {
    std::vector<std::pair<std::string, Tally>> rows(breakdowns[name].begin(), breakdowns[name].end());
    std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.series > b.second.series; });
    json::array list;
    for (const auto& [value, tally] : rows) {
      list.emplace_back(json::object{{"value", value}, {"series", tally.series}, {"instances", tally.instances}});
    }
    out_breakdowns[name] = std::move(list);
  }
  return {{"counts",
           {{"cases", cases},
            {"patients", static_cast<std::int64_t>(patients.size())},
            {"studies", studies},
            {"series", series},
            {"instances", instances}}},
          {"breakdowns", std::move(out_breakdowns)}};
}

}  // namespace meta_db::catalog
