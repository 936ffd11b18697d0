// POST /cohort: cross-level cohorts (filters per level, one level listed, exact counts of all four levels).
#include "db_api/api.hpp"
#include "db_api/listing.hpp"

#include "common/error.hpp"

#include <boost/json/serialize.hpp>

namespace meta_db::db_api {

namespace {

std::shared_ptr<const query::Filter> LevelFilter(const boost::json::object& body, std::string_view key) {
  const auto* filter = body.if_contains(key);
  if (filter == nullptr || filter->is_null()) return nullptr;
  if (!filter->is_object()) {
    throw Error(Errc::kBadRequest, "'" + std::string(key) + "' must be a filter object",
                boost::json::object{{"field", key}});
  }
  try {
    return query::ParseFilter(*filter);
  } catch (const Error& e) {
    // The same message as /query, with the level it was found in.
    boost::json::object details = e.details().is_object() ? e.details().as_object() : boost::json::object{};
    details["level"] = key;
    throw Error(e.code(), std::string(key) + ": " + e.what(), std::move(details));
  }
}

}  // namespace

CohortQuery ParseCohortRequest(const boost::json::object& body) {
  boost::json::object paging;
  for (const auto& [key, value] : body) {
    if (key == "studies" || key == "series" || key == "instances" || key == "return") continue;
    if (key == "sort" || key == "skip" || key == "limit" || key == "projection") {
      paging[key] = value;
      continue;
    }
    throw Error(Errc::kBadRequest, "unknown key '" + std::string(key) + "' in a cohort request",
                boost::json::object{{"field", key}});
  }
  CohortQuery cohort;
  cohort.studies = LevelFilter(body, "studies");
  cohort.series = LevelFilter(body, "series");
  cohort.instances = LevelFilter(body, "instances");
  if (const auto* level = body.if_contains("return")) {
    const std::string_view name = level->is_string() ? std::string_view(level->as_string()) : "";
    const auto kind = ParseKind(name);
    if (!kind || (*kind != Kind::kStudies && *kind != Kind::kSeries && *kind != Kind::kInstances)) {
      throw Error(Errc::kBadRequest,
                  "unknown level '" + (level->is_string() ? std::string(name) : boost::json::serialize(*level)) +
                      "' in 'return' (studies, series or instances)",
                  boost::json::object{{"field", "return"}});
    }
    cohort.level = *kind;
  }
  cohort.page = query::ParseQueryRequest(paging);
  cohort.page.as_json_text = true;
  return cohort;
}

Response PostCohort(ApiContext& ctx, const Request& request) {
  const CohortQuery cohort = ParseCohortRequest(BodyObject(request));
  CohortResult result;
  ctx.store.Read([&](Session& session) { result = session.FindCohort(cohort); });
  Response response = ListResponse(result.page, cohort.page);
  response.body.pop_back();  // the list's closing brace: the counts join it
  response.body += ",\"counts\":" + boost::json::serialize(CountsJson(result.counts)) + "}";
  return response;
}

boost::json::object CountsJson(const CohortCounts& counts) {
  return {{"patients", counts.patients},
          {"studies", counts.studies},
          {"series", counts.series},
          {"instances", counts.instances}};
}

}  // namespace meta_db::db_api
