// The API's services and handler entry points (pure: Request in, Response out; no Beast here).
// Thread-safety: handlers run concurrently on the server's threads; ApiContext is shared and synchronised.
#pragma once

#include "db_api/dictionary.hpp"
#include "db_api/http.hpp"
#include "db_api/router.hpp"
#include "model/kind.hpp"
#include "store/store.hpp"

#include <boost/json/object.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

namespace meta_db::db_api {

class JobRunner;  // job_runner.hpp

inline constexpr std::string_view kVersion = "0.1.0";

// Results of the expensive discovery scans (/fields, /stats), reused while the catalogue is unchanged.
class DiscoveryCache {
 public:
  // The cached value for `key` if computed at `generation` less than `max_age` ago.
  std::optional<boost::json::object> Get(const std::string& key, std::uint64_t generation,
                                         std::chrono::seconds max_age);
  void Put(const std::string& key, std::uint64_t generation, boost::json::object value);

 private:
  struct Entry {
    std::uint64_t generation;
    std::chrono::steady_clock::time_point at;
    boost::json::object value;
  };
  std::mutex mutex_;
  std::map<std::string, Entry> entries_;
};

struct ApiContext {
  ApiContext(Store& store_, std::string web_root_, std::string swagger_dir_)
      : store(store_), web_root(std::move(web_root_)), swagger_dir(std::move(swagger_dir_)) {}

  Store& store;
  std::string web_root;     // dashboard build ("" = none)
  std::string swagger_dir;  // swagger-ui-dist directory ("" = /docs assets unavailable)
  // Bumped by every write through the API; ingest in another process is covered by the cache's max age.
  std::atomic<std::uint64_t> generation{0};
  DiscoveryCache cache;
  std::string openapi_json;  // rendered once from the route table
  // Set by the server to a cached background probe, so /health never waits on a slow or unreachable store;
  // unset (unit tests), /health asks the store itself.
  std::function<std::string()> store_unreachable;
  // Unset (route-table tests, fuzzers): GET /dictionary knows no keyword and answers {}.
  DictionaryLookup dictionary;
  // The server's background job runner; null (in-process route tests), jobs are resolved in the request.
  JobRunner* jobs = nullptr;
};

// The one route table (routes.cpp).
std::vector<Route> BuildRoutes(ApiContext& ctx);
// GET /dictionary (dictionary_routes.cpp).
void AddDictionaryRoutes(std::vector<Route>& routes, ApiContext& ctx);

// Resources (resources.cpp).
Response CreateDocument(ApiContext& ctx, Kind kind, const Request& request);
Response ListDocuments(ApiContext& ctx, Kind kind, const Request& request);
Response GetDocument(ApiContext& ctx, Kind kind, const Request& request);
Response GetDocumentByUid(ApiContext& ctx, Kind kind, const Request& request);
Response PatchDocument(ApiContext& ctx, Kind kind, const Request& request);
Response DeleteDocument(ApiContext& ctx, Kind kind, const Request& request);
Response ListChildren(ApiContext& ctx, Kind child, const Request& request);
Response SeriesAnnotations(ApiContext& ctx, const Request& request);  // annotations.cpp
Response AppendCases(ApiContext& ctx, const Request& request);
Response CollectionStudies(ApiContext& ctx, const Request& request);
Response CollectionSummary(ApiContext& ctx, const Request& request);

// Jobs (jobs.cpp): created queued and resolved in the background (job_runner.hpp); reports and snapshots.
Response CreateJob(ApiContext& ctx, const Request& request);
Response GetJob(ApiContext& ctx, const Request& request);
Response RunJob(ApiContext& ctx, const Request& request);
Response PatchJob(ApiContext& ctx, const Request& request);
Response DeleteJob(ApiContext& ctx, const Request& request);
Response ResearcherJobs(ApiContext& ctx, const Request& request);
Response JobReport(ApiContext& ctx, const Request& request);
Response JobSnapshots(ApiContext& ctx, const Request& request);

// Queries and discovery (discovery.cpp).
Response Health(ApiContext& ctx, const Request& request);
Response PostQuery(ApiContext& ctx, const Request& request);
Response FieldsOf(ApiContext& ctx, const Request& request);
Response Stats(ApiContext& ctx, const Request& request);
Response ErrorsList(ApiContext& ctx, const Request& request);
// The census behind /fields: every field of (a sample of) a collection with counts, types and `top_values` values.
boost::json::object FieldCensus(Session& session, Kind kind, std::size_t top_values);
// fn's answer, reused while the catalogue is unchanged (ctx.generation) and younger than the discovery max age.
boost::json::object CachedObject(ApiContext& ctx, const std::string& key,
                                 const std::function<boost::json::object(Session&)>& fn);

// Plain-language questions (nl_translate.cpp).
Response NlTranslate(ApiContext& ctx, const Request& request);

// Cross-level cohorts (cohort.cpp). ParseCohortRequest validates a POST /cohort body (400 naming an unknown key,
// level or filter path), with the filter language's limits.
CohortQuery ParseCohortRequest(const boost::json::object& body);
boost::json::object CountsJson(const CohortCounts& counts);
Response PostCohort(ApiContext& ctx, const Request& request);
// The earlier FastAPI app's discovery answers (compat_fields.cpp).
Response AvailableFields(ApiContext& ctx, const Request& request);
Response AvailableMetadataFields(ApiContext& ctx, const Request& request);

// Streamed exports (export_routes.cpp): the rows of a collection or of a /query body as CSV, JSON lines or a TCIA
// manifest; the row source is pluggable (export.hpp) so other row sets (a cohort) export the same way.
std::vector<ParamDoc> ExportParams(bool with_level);
Response CollectionExport(ApiContext& ctx, const Request& request);
Response QueryExport(ApiContext& ctx, const Request& request);
Response CohortExport(ApiContext& ctx, const Request& request);

// Access control (auth_routes.cpp): researchers' API tokens, the caller's identity, the audit log.
Response CreateToken(ApiContext& ctx, const Request& request);
Response ListTokens(ApiContext& ctx, const Request& request);
Response RevokeToken(ApiContext& ctx, const Request& request);
Response WhoAmI(ApiContext& ctx, const Request& request);
Response ListAudit(ApiContext& ctx, const Request& request);

// Docs and static files (static_files.cpp).
Response OpenApiDocument(ApiContext& ctx, const Request& request);
Response SwaggerPage(ApiContext& ctx, const Request& request);
Response SwaggerAsset(ApiContext& ctx, const Request& request);
// The dashboard under "/" and "/ui/..." from web_root; nullopt when the path is not a dashboard path.
std::optional<Response> StaticFallback(ApiContext& ctx, const Request& request);

// Shared helpers.
ObjectId PathId(const Request& request, const std::string& name = "id");  // 400 unless 24-hex
boost::json::object BodyObject(const Request& request);                   // 400/422 on bad JSON
void Touch(ApiContext& ctx);                                              // after a successful write
Document MustGet(Session& session, Kind kind, const ObjectId& id);        // 404 when absent
// Referenced ids (collection_ids, collection_id, study_id, series_id) must exist: 422 naming the field.
void CheckReferences(Session& session, Kind kind, const boost::json::object& doc);
// Ownership rules for researchers (admins and the local user are unaffected): a created collection is the caller's
// (403 if the body names another owner); a patch never changes `owner_field` (403).
void ClaimOwnership(const Request& request, Kind kind, boost::json::object& doc);
void KeepOwnership(const Request& request, const boost::json::object& patch, std::string_view owner_field);

}  // namespace meta_db::db_api
