// The earlier FastAPI app's field discovery (GET /available-fields, /available-metadata-fields), answered in its
// shapes so its frontend's column pickers work unchanged.
#include "db_api/api.hpp"
#include "db_api/models.hpp"

#include "common/error.hpp"

#include <boost/json/array.hpp>

#include <set>

namespace meta_db::db_api {

namespace {

constexpr std::int64_t kScanPage = 1000;
constexpr std::int64_t kMaxScanned = 20000;  // documents read per answer (as /fields samples)
constexpr std::size_t kMaxKeys = 1000;

// studies | series | instances, as the FastAPI app allowed (400 otherwise, naming the parameter).
Kind LevelParam(const Request& request) {
  const std::string name = request.Param("collection").value_or("");
  const auto kind = ParseKind(name);
  if (!kind || (*kind != Kind::kStudies && *kind != Kind::kSeries && *kind != Kind::kInstances)) {
    throw Error(Errc::kBadRequest, "invalid collection name '" + name + "' (studies, series or instances)",
                boost::json::object{{"parameter", "collection"}});
  }
  return *kind;
}

}  // namespace

Response AvailableFields(ApiContext&, const Request& request) {
  const Kind kind = LevelParam(request);
  boost::json::array fields;
  for (const FieldSpec& spec : Fields(kind)) fields.emplace_back(spec.name);
  return JsonResponse(200, boost::json::object{{"fields", std::move(fields)}});
}

Response AvailableMetadataFields(ApiContext& ctx, const Request& request) {
  const Kind kind = LevelParam(request);
  boost::json::object filter;
  if (const auto collection = request.Param("collection_id"); collection && !collection->empty()) {
    const auto id = ObjectId::Parse(*collection);
    if (!id) {
      throw Error(Errc::kBadRequest, "collection_id must be a 24-hex id",
                  boost::json::object{{"parameter", "collection_id"}});
    }
    if (kind == Kind::kInstances) {
      throw Error(Errc::kBadRequest, "instances carry no collection tag; use collection=series or studies",
                  boost::json::object{{"parameter", "collection_id"}});
    }
    filter["collection_ids"] = id->ToHex();
  }
  std::set<std::string> keys;
  ctx.store.Read([&](Session& session) {
    query::Query query;
    if (!filter.empty()) query.filter = query::ParseFilter(filter);
    query.projection = query::Projection{true, {"metadata"}};
    query.count_total = false;
    query.limit = kScanPage;
    for (std::int64_t seen = 0; seen < kMaxScanned && keys.size() < kMaxKeys; query.skip += kScanPage) {
      const FindResult page = session.Find(kind, query);
      for (const Document& doc : page.results) {
        if (const auto* meta = doc.if_contains("metadata"); meta != nullptr && meta->is_object()) {
          for (const auto& entry : meta->as_object()) keys.insert(std::string(entry.key()));
        }
      }
      seen += static_cast<std::int64_t>(page.results.size());
      if (static_cast<std::int64_t>(page.results.size()) < kScanPage) break;
    }
  });
  boost::json::array fields;
  for (const std::string& key : keys) fields.emplace_back(key);
  return JsonResponse(200, boost::json::object{{"metadata_fields", std::move(fields)}});
}

}  // namespace meta_db::db_api
