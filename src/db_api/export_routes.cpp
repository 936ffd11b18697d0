// GET /collections/{id}/export, POST /query/export and POST /cohort/export: validate, then answer with a streamed body (export.hpp).
#include "db_api/api.hpp"
#include "db_api/export.hpp"

#include "common/error.hpp"

#include <boost/json/array.hpp>

namespace meta_db::db_api {

namespace {

ExportSpec SpecOf(const Request& request, Kind default_level) {
  return ParseExportSpec(request.Param("format"), request.Param("level"), request.Param("fields"),
                         request.Param("split"), request.Param("stratify"), request.Param("seed"), default_level);
}

Response Streamed(ApiContext& ctx, const ExportSpec& spec, RowSource source, std::string_view stem) {
  Response response;
  response.status = 200;
  response.content_type = std::string(ExportContentType(spec.format));
  response.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + ExportFileName(spec, stem) + "\"");
  response.stream = [&store = ctx.store, spec, source = std::move(source)](BodySink& sink) {
    return RunExport(store, spec, source, sink);
  };
  return response;
}

}  // namespace

std::vector<ParamDoc> ExportParams(bool with_level) {
  std::vector<ParamDoc> params{
      {"format", "string", "csv (default) | jsonl | tcia (NBIA Data Retriever manifest of SeriesInstanceUIDs)"},
      {"fields", "string", "comma-separated dotted paths (e.g. _id,patient_id,metadata.Manufacturer,path); default: "
                           "ids, UIDs and path (docs/exports.md)"},
      {"split", "string", "ML split by whole patients, e.g. train:70,val:15,test:15 (adds a split column)"},
      {"stratify", "string", "field whose per-patient value the split is stratified by, e.g. metadata.Manufacturer"},
      {"seed", "integer", "split seed (same seed, same split; default 0)"}};
  if (with_level) params.insert(params.begin() + 1, {"level", "string", "studies | series (default) | instances"});
  return params;
}

Response CollectionExport(ApiContext& ctx, const Request& request) {
  const ObjectId id = PathId(request);
  const ExportSpec spec = SpecOf(request, Kind::kSeries);
  ctx.store.Read([&](Session& session) { MustGet(session, Kind::kCollections, id); });
  return Streamed(ctx, spec, CollectionSource(spec.level, id), "collection-" + id.ToHex());
}

Response QueryExport(ApiContext& ctx, const Request& request) {
  const boost::json::object body = BodyObject(request);
  const auto* collection = body.if_contains("collection");
  if (collection == nullptr || !collection->is_string()) {
    throw Error(Errc::kBadRequest, "'collection' (string) is required", boost::json::object{{"field", "collection"}});
  }
  const auto kind = ParseKind(collection->as_string());
  if (!kind || (*kind != Kind::kStudies && *kind != Kind::kSeries && *kind != Kind::kInstances)) {
    throw Error(Errc::kBadRequest,
                "cannot export collection '" + std::string(collection->as_string()) +
                    "' (studies, series or instances)",
                boost::json::object{{"field", "collection"}});
  }
  const query::Query parsed = query::ParseQueryRequest(body);  // the same validation as /query (400 naming it)
  const ExportSpec spec = SpecOf(request, *kind);
  // skip, limit and sort do not apply: an export is every match, in _id order.
  boost::json::value filter;
  if (const auto* given = body.if_contains("query")) filter = *given;
  if (const auto* given = body.if_contains("filter")) filter = *given;
  if (filter.is_object() && filter.as_object().empty()) filter = nullptr;
  // What could fail while streaming fails now, as a status: the filter as the pages after the first run it (one
  // level deeper, beside `_id > last`), and one row of it (free text on a level without it, the query budget).
  if (!filter.is_null()) {
    boost::json::object after;
    after["_id"] = boost::json::object{{"$gt", "000000000000000000000000"}};
    boost::json::object both;
    both["$and"] = boost::json::array{filter, after};
    query::ParseFilter(both);
  }
  if (!filter.is_null() || !parsed.text.empty()) {  // without either, nothing to probe: the first byte goes at once
    query::Query probe;
    if (!filter.is_null()) probe.filter = query::ParseFilter(filter);
    probe.text = parsed.text;
    probe.count_total = false;
    probe.limit = 1;
    ctx.store.Read([&](Session& session) { session.Find(*kind, probe); });
  }
  return Streamed(ctx, spec, FilterSource(*kind, std::move(filter), parsed.text), "query");
}

Response CohortExport(ApiContext& ctx, const Request& request) {
  CohortQuery cohort = ParseCohortRequest(BodyObject(request));  // the same validation as /cohort (400 naming it)
  if (request.Param("level")) {
    throw Error(Errc::kBadRequest, "a cohort export lists the level its body's 'return' names; 'level' does not apply",
                boost::json::object{{"parameter", "level"}});
  }
  const ExportSpec spec = SpecOf(request, cohort.level);
  // What could fail while streaming fails now, as a status: one id of the cohort (the query budget, a bad filter) —
  // of its series for an instances cohort, as the export reads it (the first of its instances in _id order would
  // make SQLite sort them all).
  CohortQuery probe = cohort;
  probe.count = false;
  probe.ids = CohortIds{std::nullopt, 1};
  if (probe.level == Kind::kInstances) probe.level = Kind::kSeries;
  ctx.store.Read([&](Session& session) { session.FindCohort(probe); });
  return Streamed(ctx, spec, CohortSource(std::move(cohort)), "cohort");
}

}  // namespace meta_db::db_api
