// Hierarchy invariants over any Store session: summaries, instance lists, timestamps, references, cascades.
#include "catalog/catalog.hpp"

#include "catalog/series_qc.hpp"

#include "common/clock.hpp"
#include "common/error.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>
#include <string>

namespace meta_db::catalog {

namespace {

namespace json = boost::json;

constexpr std::string_view kServerOwned[] = {"_id", "created_at", "updated_at"};

// Fields the server derives from other documents; clients may not write them.
bool IsDerived(Kind kind, std::string_view field) {
  if (kind == Kind::kSeries) return field == "instances" || field == "num_instances" || field == "qc";
  if (kind == Kind::kStudies) return field == "series";
  return false;
}

std::string Name(Kind kind) { return std::string(CollectionName(kind)); }

ObjectId IdOf(const Document& doc) {
  const auto* value = doc.if_contains("_id");
  if (value != nullptr && value->is_string()) {
    if (auto id = ObjectId::Parse(value->as_string())) return *id;
  }
  throw Error(Errc::kInternal, "document without a valid _id");
}

// The parent id a child document points at; kUnprocessable if missing or malformed.
ObjectId ParentIdOf(Kind kind, const Document& doc) {
  const std::string_view field = *ParentField(kind);
  const auto* value = doc.if_contains(field);
  if (value == nullptr || !value->is_string()) {
    throw Error(Errc::kUnprocessable, Name(kind) + " requires '" + std::string(field) + "'",
                json::object{{"field", field}});
  }
  const auto id = ObjectId::Parse(value->as_string());
  if (!id) {
    throw Error(Errc::kUnprocessable, "'" + std::string(field) + "' is not a 24-hex ObjectId",
                json::object{{"field", field}});
  }
  return *id;
}

Kind ParentKind(Kind kind) { return kind == Kind::kSeries ? Kind::kStudies : Kind::kSeries; }

void RequireParent(CatalogSession& session, Kind kind, const ObjectId& parent) {
  if (!session.Get(ParentKind(kind), parent)) {
    const std::string field(*ParentField(kind));
    throw Error(Errc::kUnprocessable, field + " " + parent.ToHex() + " does not exist",
                json::object{{"field", field}});
  }
}

// Content equality, ignoring the timestamps that only record when content changed.
bool IsTimestamp(std::string_view key) { return key == "created_at" || key == "updated_at"; }

bool SameContent(const Document& a, const Document& b) {
  std::size_t content_keys = 0;
  for (const auto& [key, value] : a) {
    if (IsTimestamp(key)) continue;
    ++content_keys;
    const auto* other = b.if_contains(key);
    if (other == nullptr || *other != value) return false;
  }
  // Every key of `a` is in `b` with the same value; equal content needs `b` to have no other key either.
  const auto b_keys = static_cast<std::size_t>(std::count_if(
      b.begin(), b.end(), [](const auto& field) { return !IsTimestamp(field.key()); }));
  return b_keys == content_keys;
}

void SetDefault(Document& doc, std::string_view key, json::value value) {
  if (!doc.contains(key)) doc[key] = std::move(value);
}

// Builds series._search_text from its descriptive fields (seed: "CT CHEST High-res axial HFS").
std::string SearchTextOf(const Document& series) {
  std::string text;
  auto add = [&](const json::value* value) {
    if (value == nullptr) return;
    if (value->is_string() && !value->as_string().empty()) {
      if (!text.empty()) text += ' ';
      text += value->as_string();
    } else if (value->is_number()) {
      if (!text.empty()) text += ' ';
      char number[32];
      std::snprintf(number, sizeof number, "%g", value->to_number<double>());
      text += number;
    }
  };
  add(series.if_contains("modality"));
  add(series.if_contains("series_description"));
  if (const auto* metadata = series.if_contains("metadata"); metadata && metadata->is_object()) {
    for (std::string_view key : {"BodyPartExamined", "Manufacturer", "ManufacturerModelName", "ConvolutionKernel",
                                 "ProtocolName", "PatientPosition", "StudyDescription", "SliceThickness"}) {
      add(metadata->as_object().if_contains(key));
    }
  }
  return text;
}

void ApplyDefaults(Kind kind, Document& doc) {
  switch (kind) {
    case Kind::kResearchers: SetDefault(doc, "jobs", json::array{}); break;
    case Kind::kCollections: SetDefault(doc, "cases", json::array{}); break;
    case Kind::kStudies:
      SetDefault(doc, "collection_ids", json::array{});
      SetDefault(doc, "series", json::array{});
      break;
    case Kind::kSeries:
      SetDefault(doc, "collection_ids", json::array{});
      SetDefault(doc, "instances", json::array{});
      SetDefault(doc, "num_instances", 0);
      SetDefault(doc, "embeddings_id", nullptr);
      doc["_search_text"] = SearchTextOf(doc);
      doc["qc"] = SeriesQc({}, doc);
      break;
    case Kind::kInstances:
    case Kind::kJobs:
    case Kind::kAnnotations: break;
    case Kind::kJobRecords: break;
  }
}

void RemoveSubtree(CatalogSession& session, Kind kind, const ObjectId& id) {
  if (kind == Kind::kStudies) {
    for (const ObjectId& series : session.ChildIds(Kind::kSeries, id)) RemoveSubtree(session, Kind::kSeries, series);
  } else if (kind == Kind::kSeries) {
    for (const ObjectId& instance : session.ChildIds(Kind::kInstances, id)) session.Remove(Kind::kInstances, instance);
    UnlinkAnnotations(session, id);
  }
  session.Remove(kind, id);
}

}  // namespace

void UnlinkAnnotations(CatalogSession& session, const ObjectId& series_id) {
  query::Query query;
  query.filter = query::ParseFilter(json::object{{"series_id", series_id.ToHex()}});
  query.sort = {{"_id", 1}};
  query.count_total = false;
  query.limit = query::kMaxLimit;
  for (;;) {
    FindResult page = session.Find(Kind::kAnnotations, query);
    for (Document& mark : page.results) {
      mark["series_id"] = nullptr;
      mark["study_id"] = nullptr;
      PutIfChanged(session, Kind::kAnnotations, std::move(mark));
    }
    // Each page's marks no longer match: the next find starts again from the first that still does.
    if (static_cast<std::int64_t>(page.results.size()) < query.limit) break;
  }
}

Document SeriesSummary(const Document& series) {
  Document summary;
  summary["series_id"] = series.at("_id");
  for (std::string_view key : {"series_instance_uid", "series_number", "series_description", "modality"}) {
    const auto* value = series.if_contains(key);
    summary[key] = value ? *value : json::value(nullptr);
  }
  return summary;
}

PutResult PutIfChanged(CatalogSession& session, Kind kind, Document doc) {
  const auto stored = session.Get(kind, IdOf(doc));
  return PutIfChanged(session, kind, doc, stored);
}

PutResult PutIfChanged(CatalogSession& session, Kind kind, Document& doc, const std::optional<Document>& existing) {
  if (kind == Kind::kSeries) doc["_search_text"] = SearchTextOf(doc);
  if (existing && SameContent(*existing, doc)) return PutResult::kUnchanged;
  const std::string now = NowIsoUtc();
  const auto* created = existing ? existing->if_contains("created_at") : nullptr;
  doc["created_at"] = created ? *created : json::value(now);
  doc["updated_at"] = now;
  if (existing) {
    session.Replace(kind, doc);
    return PutResult::kUpdated;
  }
  // An upsert rather than an insert: another writer may have stored the same document (same UID-derived id)
  // since it was looked up.
  session.Put(kind, doc);
  return PutResult::kInserted;
}

std::optional<PutResult> PutIfStillStored(CatalogSession& session, Kind kind, Document& doc, const Document& stored) {
  if (SameContent(stored, doc)) return PutResult::kUnchanged;
  const auto* created = stored.if_contains("created_at");
  doc["created_at"] = created ? *created : json::value(NowIsoUtc());
  doc["updated_at"] = NowIsoUtc();
  if (!session.ReplaceIfUnchanged(kind, doc, stored)) return std::nullopt;
  return PutResult::kUpdated;
}

bool RefreshSeries(CatalogSession& session, const ObjectId& series_id) {
  std::vector<ObjectId> ids;
  std::vector<SliceGeometry> slices;
  for (const Document& instance : session.Children(Kind::kInstances, series_id)) {
    ids.push_back(IdOf(instance));
    slices.push_back(GeometryOf(instance));
  }
  return RefreshSeries(session, series_id, ids, slices);
}

bool RefreshSeries(CatalogSession& session, const ObjectId& series_id, const std::vector<ObjectId>& instance_ids,
                   const std::vector<SliceGeometry>& slices) {
  auto series = session.Get(Kind::kSeries, series_id);
  if (!series) return false;
  json::array instances;
  for (const ObjectId& id : instance_ids) instances.emplace_back(id.ToHex());
  Document updated = *series;
  updated["num_instances"] = static_cast<std::int64_t>(instances.size());
  updated["instances"] = std::move(instances);
  updated["qc"] = SeriesQc(slices, updated);
  return PutIfChanged(session, Kind::kSeries, updated, series) != PutResult::kUnchanged;
}

bool RefreshStudy(CatalogSession& session, const ObjectId& study_id) {
  return RefreshStudy(session, study_id, session.Children(Kind::kSeries, study_id));
}

bool RefreshStudy(CatalogSession& session, const ObjectId& study_id, const std::vector<Document>& children) {
  auto study = session.Get(Kind::kStudies, study_id);
  if (!study) return false;
  json::array summaries;
  for (const Document& series : children) summaries.emplace_back(SeriesSummary(series));
  Document updated = *study;
  updated["series"] = std::move(summaries);
  return PutIfChanged(session, Kind::kStudies, updated, study) != PutResult::kUnchanged;
}

Document Create(CatalogSession& session, Kind kind, Document doc) {
  if (const auto* id = doc.if_contains("_id")) {
    const std::optional<ObjectId> parsed = id->is_string() ? ObjectId::Parse(id->as_string()) : std::nullopt;
    if (!parsed) throw Error(Errc::kUnprocessable, "'_id' must be a 24-hex ObjectId", json::object{{"field", "_id"}});
    doc["_id"] = parsed->ToHex();  // the canonical (lower-case) form every look-up by id uses
  } else {  // _id leads the document, as MongoDB shows it
    Document with_id;
    with_id.reserve(doc.size() + 8);
    with_id["_id"] = ObjectId::Generate().ToHex();
    for (auto& field : doc) with_id.emplace(field.key(), std::move(field.value()));
    doc = std::move(with_id);
  }
  for (const auto& [key, value] : doc) {
    if (IsDerived(kind, key) && !(value.is_array() && value.as_array().empty()) &&
        !(key == "num_instances" && value.is_int64() && value.as_int64() == 0)) {
      throw Error(Errc::kUnprocessable, "'" + std::string(key) + "' is maintained by the server",
                  json::object{{"field", key}});
    }
  }
  std::optional<ObjectId> parent;
  if (ParentField(kind)) {
    parent = ParentIdOf(kind, doc);
    RequireParent(session, kind, *parent);
  }
  ApplyDefaults(kind, doc);
  const std::string now = NowIsoUtc();
  doc["created_at"] = now;
  doc["updated_at"] = now;
  session.Insert(kind, doc);
  if (kind == Kind::kSeries) RefreshStudy(session, *parent);
  if (kind == Kind::kInstances) RefreshSeries(session, *parent);
  std::optional<Document> stored = session.Get(kind, IdOf(doc));
  if (!stored) throw Error(Errc::kInternal, Name(kind) + " " + IdOf(doc).ToHex() + " not found after its insert");
  return std::move(*stored);
}

Document Patch(CatalogSession& session, Kind kind, const ObjectId& id, const Document& patch) {
  auto existing = session.Get(kind, id);
  if (!existing) throw Error(Errc::kNotFound, Name(kind) + " " + id.ToHex() + " not found");
  Document doc = *existing;
  for (const auto& [key, value] : patch) {
    for (std::string_view owned : kServerOwned) {
      if (key == owned) {
        throw Error(Errc::kUnprocessable, "'" + std::string(key) + "' cannot be changed",
                    json::object{{"field", key}});
      }
    }
    if (IsDerived(kind, key)) {
      throw Error(Errc::kUnprocessable, "'" + std::string(key) + "' is maintained by the server",
                  json::object{{"field", key}});
    }
    if (value.is_null()) {
      doc.erase(key);
    } else {
      doc[key] = value;
    }
  }
  std::optional<ObjectId> old_parent, new_parent;
  if (ParentField(kind)) {
    old_parent = ParentIdOf(kind, *existing);
    new_parent = ParentIdOf(kind, doc);
    if (*new_parent != *old_parent) RequireParent(session, kind, *new_parent);
  }
  PutIfChanged(session, kind, doc);
  if (kind == Kind::kSeries) {
    RefreshSeries(session, id);  // qc.kernel_class follows the series' ConvolutionKernel
    RefreshStudy(session, *old_parent);
    if (*new_parent != *old_parent) RefreshStudy(session, *new_parent);
  } else if (kind == Kind::kInstances) {
    RefreshSeries(session, *old_parent);
    if (*new_parent != *old_parent) RefreshSeries(session, *new_parent);
  }
  return *session.Get(kind, id);
}

void Remove(CatalogSession& session, Kind kind, const ObjectId& id, bool cascade) {
  auto existing = session.Get(kind, id);
  if (!existing) throw Error(Errc::kNotFound, Name(kind) + " " + id.ToHex() + " not found");
  if (kind == Kind::kStudies || kind == Kind::kSeries) {
    const Kind child = kind == Kind::kStudies ? Kind::kSeries : Kind::kInstances;
    const std::int64_t children = session.CountChildren(child, id);
    if (children > 0 && !cascade) {
      throw Error(Errc::kConflict,
                  Name(kind) + " " + id.ToHex() + " has " + std::to_string(children) + " " + Name(child) +
                      "; delete them first or pass ?cascade=true",
                  json::object{{"children", children}});
    }
  }
  RemoveSubtree(session, kind, id);
  if (kind == Kind::kSeries) RefreshStudy(session, ParentIdOf(kind, *existing));
  if (kind == Kind::kInstances) RefreshSeries(session, ParentIdOf(kind, *existing));
}

std::int64_t RestoreResearcherJobs(CatalogSession& session) {
  std::map<std::string, json::array> jobs_of;  // researcher_id -> job ids, in _id order
  session.VisitAll(Kind::kJobs, 1000, [&](std::vector<Document>& docs) {
    for (const Document& job : docs) {
      const auto* rid = job.if_contains("researcher_id");
      if (rid != nullptr && rid->is_string()) jobs_of[std::string(rid->as_string())].emplace_back(IdOf(job).ToHex());
    }
  });
  std::vector<Document> changed;
  session.VisitAll(Kind::kResearchers, 1000, [&](std::vector<Document>& docs) {
    for (Document& researcher : docs) {
      const auto* rid = researcher.if_contains("researcher_id");
      json::array expected = rid != nullptr && rid->is_string() ? jobs_of[std::string(rid->as_string())] : json::array{};
      const auto* listed = researcher.if_contains("jobs");
      std::set<std::string> want, have;
      for (const json::value& id : expected) want.emplace(id.as_string());
      if (listed != nullptr && listed->is_array()) {
        for (const json::value& id : listed->as_array()) {
          if (id.is_string()) have.emplace(id.as_string());
        }
      }
      if (want == have) continue;
      researcher["jobs"] = std::move(expected);
      changed.push_back(std::move(researcher));
    }
  });
  for (Document& researcher : changed) PutIfChanged(session, Kind::kResearchers, std::move(researcher));
  return static_cast<std::int64_t>(changed.size());
}

}  // namespace meta_db::catalog
