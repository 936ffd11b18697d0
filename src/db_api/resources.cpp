// CRUD handlers for the six collections; every write is one Store::Write transaction through the catalog,
// so the hierarchy's invariants hold and a failed request leaves nothing half-written.
#include "db_api/api.hpp"
#include "db_api/auth.hpp"
#include "db_api/listing.hpp"
#include "db_api/models.hpp"

#include "catalog/catalog.hpp"
#include "catalog/collection_links.hpp"
#include "catalog/record_io.hpp"
#include "common/error.hpp"
#include "common/json_io.hpp"

#include <boost/json/array.hpp>

#include <set>

namespace meta_db::db_api {

namespace {

[[noreturn]] void Unprocessable(std::string_view field, const std::string& why) {
  throw Error(Errc::kUnprocessable, "field '" + std::string(field) + "' " + why,
              boost::json::object{{"field", field}});
}

// Series carry their study's patient and accession (as ingest writes them), so series-level filters on those
// fields also find series created through the API.
void InheritFromStudy(Session& session, boost::json::object& series) {
  const auto study = session.Get(Kind::kStudies, *ObjectId::Parse(series.at("study_id").as_string()));
  if (!study) return;
  for (const char* field : {"patient_id", "accession_number"}) {
    if (!series.contains(field) && study->contains(field)) series[field] = study->at(field);
  }
}

// Removes a deleted collection's id from every study's and series' collection_ids and every job's collection_id
// (no dangling references).
void Untag(Session& session, const ObjectId& collection) {
  const std::string hex = collection.ToHex();
  for (Kind kind : {Kind::kStudies, Kind::kSeries}) {
    query::Query query = MakeQuery({{"collection_ids", hex}});
    query.projection = query::Projection{true, {"collection_ids"}};
    query.count_total = false;
    query.limit = query::kMaxLimit;
    // Each patched document stops matching, so the first page is re-read until it comes back empty.
    for (FindResult page = session.Find(kind, query); !page.results.empty(); page = session.Find(kind, query)) {
      for (const Document& doc : page.results) {
        boost::json::array kept;
        for (const auto& tag : doc.at("collection_ids").as_array()) {
          if (tag != boost::json::value(hex)) kept.push_back(tag);
        }
        catalog::Patch(session, kind, *ObjectId::Parse(doc.at("_id").as_string()), {{"collection_ids", kept}});
      }
    }
  }
  // Jobs drop their collection_id too (as `meta_db check --repair` does): none may name a deleted collection.
  query::Query jobs = MakeQuery({{"collection_id", hex}});
  jobs.projection = query::Projection{true, {"collection_id"}};
  jobs.count_total = false;
  jobs.limit = query::kMaxLimit;
  for (FindResult page = session.Find(Kind::kJobs, jobs); !page.results.empty();
       page = session.Find(Kind::kJobs, jobs)) {
    for (const Document& doc : page.results) {
      const ObjectId id = *ObjectId::Parse(doc.at("_id").as_string());
      catalog::Patch(session, Kind::kJobs, id, {{"collection_id", nullptr}});
    }
  }
}

bool ParseCascade(const Request& request) {
  auto value = request.Param("cascade");
  if (!value || *value == "false" || *value == "0") return false;
  if (*value == "true" || *value == "1" || value->empty()) return true;
  throw Error(Errc::kBadRequest, "query parameter 'cascade' must be true or false",
              boost::json::object{{"parameter", "cascade"}});
}

Response Created(const Document& doc, Kind kind) {
  Response response = JsonResponse(201, doc);
  if (const auto* id = doc.if_contains("_id"); id != nullptr && id->is_string()) {
    response.headers.emplace_back("Location", "/" + std::string(CollectionName(kind)) + "/" +
                                                  std::string(id->as_string()));
  }
  return response;
}

Response FindResponse(ApiContext& ctx, Kind kind, const query::Query& query) {
  FindResult result;
  ctx.store.Read([&](Session& session) { result = session.Find(kind, query); });
  return ListResponse(result, query);
}

}  // namespace

Document MustGet(Session& session, Kind kind, const ObjectId& id) {
  auto doc = session.Get(kind, id);
  if (!doc) {
    throw Error(Errc::kNotFound, std::string(CollectionName(kind)) + " " + id.ToHex() + " not found",
                boost::json::object{{"collection", CollectionName(kind)}, {"id", id.ToHex()}});
  }
  return std::move(*doc);
}

// Referenced documents must exist, so the API never creates dangling ids (422 naming the field).
void CheckReferences(Session& session, Kind kind, const boost::json::object& doc) {
  if (const auto* ids = doc.if_contains("collection_ids"); ids != nullptr && ids->is_array()) {
    for (const auto& id : ids->as_array()) {
      if (!session.Get(Kind::kCollections, *ObjectId::Parse(id.as_string()))) {
        Unprocessable("collection_ids", "references unknown collection " + std::string(id.as_string()));
      }
    }
  }
  if (auto parent_field = ParentField(kind)) {
    const Kind parent = kind == Kind::kSeries ? Kind::kStudies : Kind::kSeries;
    if (const auto* id = doc.if_contains(*parent_field); id != nullptr && id->is_string()) {
      if (!session.Get(parent, *ObjectId::Parse(id->as_string()))) {
        Unprocessable(*parent_field, "references unknown " + std::string(CollectionName(parent)) + " " +
                                         std::string(id->as_string()));
      }
    }
  }
  if (const auto* id = doc.if_contains("collection_id"); id != nullptr && id->is_string()) {
    if (!session.Get(Kind::kCollections, *ObjectId::Parse(id->as_string()))) {
      Unprocessable("collection_id", "references unknown collection " + std::string(id->as_string()));
    }
  }
  if (const auto* id = doc.if_contains("owner_id"); id != nullptr && id->is_string()) {
    if (!session.Get(Kind::kResearchers, *ObjectId::Parse(id->as_string()))) {
      Unprocessable("owner_id", "references unknown researcher " + std::string(id->as_string()));
    }
  }
  // A LIDC mark names its series and study, or null while they are not in the catalogue (never one that is not).
  if (kind == Kind::kAnnotations) {
    for (const auto& [field, parent] : {std::pair{"series_id", Kind::kSeries}, std::pair{"study_id", Kind::kStudies}}) {
      const auto* id = doc.if_contains(field);
      if (id == nullptr || id->is_null()) continue;
      const auto parsed = id->is_string() ? ObjectId::Parse(id->as_string()) : std::nullopt;
      if (!parsed || !session.Get(parent, *parsed)) {
        Unprocessable(field, std::string("must be null or the _id of a stored ") +
                                 (parent == Kind::kSeries ? "series" : "study"));
      }
    }
  }
}

// A researcher's new collection is its own; it cannot create one for somebody else.
void ClaimOwnership(const Request& request, Kind kind, boost::json::object& doc) {
  if (kind != Kind::kCollections || !IsResearcher(request)) return;
  const auto* owner = doc.if_contains("owner_id");
  if (owner != nullptr && !owner->is_null() && *owner != boost::json::value(request.caller.researcher)) {
    throw Error(Errc::kForbidden, "a researcher creates collections only for itself",
                boost::json::object{{"field", "owner_id"}});
  }
  doc["owner_id"] = request.caller.researcher;
}

// A researcher never hands its documents to another owner.
void KeepOwnership(const Request& request, const boost::json::object& patch, std::string_view owner_field) {
  if (IsResearcher(request) && patch.contains(owner_field)) {
    throw Error(Errc::kForbidden, "a researcher cannot change '" + std::string(owner_field) + "'",
                boost::json::object{{"field", owner_field}});
  }
}

ObjectId PathId(const Request& request, const std::string& name) {
  const std::string& text = request.PathParam(name);
  auto id = ObjectId::Parse(text);
  if (!id) {
    throw Error(Errc::kBadRequest, "'" + text + "' is not a valid id (24 hex digits expected)",
                boost::json::object{{"parameter", name}, {"value", text}});
  }
  return *id;
}

boost::json::object BodyObject(const Request& request) { return ParseJsonObject(request.body); }

void Touch(ApiContext& ctx) { ctx.generation.fetch_add(1, std::memory_order_relaxed); }

Response CreateDocument(ApiContext& ctx, Kind kind, const Request& request) {
  boost::json::object doc = ValidateBody(kind, Mode::kCreate, BodyObject(request));
  ClaimOwnership(request, kind, doc);
  Document stored;
  ctx.store.Write([&](Session& session) {
    CheckReferences(session, kind, doc);
    if (kind == Kind::kSeries) InheritFromStudy(session, doc);
    stored = catalog::Create(session, kind, std::move(doc));
  });
  Touch(ctx);
  return Created(stored, kind);
}

Response ListDocuments(ApiContext& ctx, Kind kind, const Request& request) {
  return FindResponse(ctx, kind, BuildListQuery(kind, request));
}

Response GetDocument(ApiContext& ctx, Kind kind, const Request& request) {
  const ObjectId id = PathId(request);
  Document doc;
  ctx.store.Read([&](Session& session) { doc = MustGet(session, kind, id); });
  return JsonResponse(200, doc);
}

Response GetDocumentByUid(ApiContext& ctx, Kind kind, const Request& request) {
  const std::string& uid = request.PathParam("uid");
  std::optional<Document> doc;
  ctx.store.Read([&](Session& session) { doc = session.GetByKey(kind, uid); });
  if (!doc) {
    throw Error(Errc::kNotFound, std::string(CollectionName(kind)) + " with UID " + uid + " not found",
                boost::json::object{{"collection", CollectionName(kind)}, {"uid", uid}});
  }
  return JsonResponse(200, *doc);
}

Response PatchDocument(ApiContext& ctx, Kind kind, const Request& request) {
  const ObjectId id = PathId(request);
  boost::json::object patch = ValidateBody(kind, Mode::kPatch, BodyObject(request));
  KeepOwnership(request, patch, "owner_id");
  Document stored;
  ctx.store.Write([&](Session& session) {
    RequireOwner(request, kind, MustGet(session, kind, id));
    CheckReferences(session, kind, patch);
    stored = catalog::Patch(session, kind, id, patch);
  });
  Touch(ctx);
  return JsonResponse(200, stored);
}

Response DeleteDocument(ApiContext& ctx, Kind kind, const Request& request) {
  const ObjectId id = PathId(request);
  const bool cascade = ParseCascade(request);
  ctx.store.Write([&](Session& session) {
    RequireOwner(request, kind, MustGet(session, kind, id));
    catalog::Remove(session, kind, id, cascade);
    if (kind == Kind::kCollections) {
      Untag(session, id);
      catalog::RemoveRecords(session, {{"collection_id", id.ToHex()}});  // its links by source
    }
  });
  Touch(ctx);
  Response response;
  response.status = 204;
  response.content_type.clear();
  return response;
}

Response ListChildren(ApiContext& ctx, Kind child, const Request& request) {
  const Kind parent = child == Kind::kSeries ? Kind::kStudies : Kind::kSeries;
  const ObjectId id = PathId(request);
  query::Query query = BuildListQuery(child, request, {{*ParentField(child), id.ToHex()}});
  // Children come in their natural order (series_number, instance_number) unless the client sorts.
  if (query.sort.empty()) query.sort = {{std::string(*ChildOrderField(child)), 1}, {"_id", 1}};
  FindResult result;
  ctx.store.Read([&](Session& session) {
    // One snapshot for both; the parent lookup only tells 404 from an empty list, since children imply a
    // parent (the catalog never orphans them).
    result = session.Find(child, query);
    if (result.total == 0) MustGet(session, parent, id);
  });
  return ListResponse(result, query);
}

Response AppendCases(ApiContext& ctx, const Request& request) {
  const ObjectId id = PathId(request);
  boost::json::object body = BodyObject(request);
  boost::json::array incoming;
  if (const auto* cases = body.if_contains("cases")) {
    if (body.size() != 1 || !cases->is_array()) Unprocessable("cases", "must be the only field, an array");
    incoming = cases->as_array();
  } else {
    incoming.emplace_back(std::move(body));
  }
  if (incoming.empty()) Unprocessable("cases", "must not be empty");
  for (const auto& item : incoming) ValidateCase(item, "cases");
  Document stored;
  ctx.store.Write([&](Session& session) {
    Document collection = MustGet(session, Kind::kCollections, id);
    RequireOwner(request, Kind::kCollections, collection);
    boost::json::array cases;
    if (const auto* old = collection.if_contains("cases"); old != nullptr && old->is_array()) cases = old->as_array();
    // A set, not a scan per case: a collection of 100,000 cases is appended to in chunks.
    std::set<std::string> taken;
    for (const auto& existing : cases) {
      if (!existing.is_object()) continue;
      if (const auto* c = existing.as_object().if_contains("case_id"); c != nullptr && c->is_string()) {
        taken.emplace(c->as_string());
      }
    }
    for (const auto& item : incoming) {
      const auto& case_id = item.as_object().at("case_id");
      if (!taken.emplace(case_id.as_string()).second) {
        throw Error(Errc::kConflict, "case " + std::string(case_id.as_string()) + " already in the collection",
                    boost::json::object{{"field", "case_id"}, {"value", case_id}});
      }
      cases.push_back(item);
    }
    // Hand-made cohorts link like jobs do: the cases' studies and series carry the collection's id.
    catalog::LinkCases(session, id, incoming);
    stored = catalog::Patch(session, Kind::kCollections, id, {{"cases", std::move(cases)}});
  });
  Touch(ctx);
  return JsonResponse(200, stored);
}

Response CollectionStudies(ApiContext& ctx, const Request& request) {
  const ObjectId id = PathId(request);
  Document collection;
  ctx.store.Read([&](Session& session) { collection = MustGet(session, Kind::kCollections, id); });
  // A study belongs to a collection when tagged with it (jobs and appended cases tag what they link), or when one of
  // the collection's cases names its patient or its accession number (cases written with the collection itself,
  // before ingest tagged anything). The case-derived clauses are server-built: past kCaseValues values they are left
  // out rather than grown into one $in a client could never send — such a collection's cases were linked (tagged)
  // when appended, and at every ingest.
  constexpr std::size_t kCaseValues = 1000;
  constexpr std::size_t kCaseBytes = 32 * 1024;
  boost::json::array patients, accessions;
  std::size_t bytes = 0;
  if (const auto* cases = collection.if_contains("cases"); cases != nullptr && cases->is_array()) {
    for (const auto& item : cases->as_array()) {
      if (!item.is_object()) continue;
      const auto& c = item.as_object();
      if (const auto* p = c.if_contains("patient_id"); p != nullptr && p->is_string()) {
        patients.push_back(*p);
        bytes += p->as_string().size() + 4;
      }
      if (const auto* a = c.if_contains("accession_numbers"); a != nullptr && a->is_array()) {
        for (const auto& acc : a->as_array()) {
          accessions.push_back(acc);
          bytes += acc.is_string() ? acc.as_string().size() + 4 : 8;
        }
      }
    }
  }
  boost::json::array any{boost::json::object{{"collection_ids", id.ToHex()}}};
  if (patients.size() + accessions.size() <= kCaseValues && bytes <= kCaseBytes) {
    if (!patients.empty()) any.push_back(boost::json::object{{"patient_id", {{"$in", patients}}}});
    if (!accessions.empty()) any.push_back(boost::json::object{{"accession_number", {{"$in", accessions}}}});
  }
  boost::json::object extra;
  if (any.size() == 1) {
    extra = any.front().as_object();
  } else {
    extra["$or"] = std::move(any);
  }
  return FindResponse(ctx, Kind::kStudies, BuildListQuery(Kind::kStudies, request, extra));
}

Response CollectionSummary(ApiContext& ctx, const Request& request) {
  const ObjectId id = PathId(request);
  Document summary;
  ctx.store.Read([&](Session& session) {
    MustGet(session, Kind::kCollections, id);
    summary = catalog::CollectionSummary(session, id);
  });
  return JsonResponse(200, summary);
}

}  // namespace meta_db::db_api
