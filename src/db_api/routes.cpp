// THE route table: every endpoint, its handler and its OpenAPI description in one place.
#include "db_api/api.hpp"
#include "db_api/audit.hpp"
#include "db_api/listing.hpp"
#include "db_api/models.hpp"

namespace meta_db::db_api {

namespace {


Handler Bind(ApiContext& ctx, Kind kind, Response (*fn)(ApiContext&, Kind, const Request&)) {
  return [&ctx, kind, fn](const Request& request) { return fn(ctx, kind, request); };
}

Handler Bind(ApiContext& ctx, Response (*fn)(ApiContext&, const Request&)) {
  return [&ctx, fn](const Request& request) { return fn(ctx, request); };
}

std::vector<ParamDoc> JobCsvParams() {
  return {{"researcher_id", "string", "with a text/csv body: the researcher's business id"},
          {"name", "string", "with a text/csv body: the job's name"},
          {"collection_id", "string", "with a text/csv body: the collection to link (one is made when absent)"}};
}

std::vector<ParamDoc> Cascade() {
  return {{"cascade", "boolean", "also delete children (series, instances); without it a parent with children is "
                                 "a 409"}};
}

// Who may write a collection: researchers their own jobs and collections; admins everything else (researchers and
// the catalogue documents ingest writes).
Access WriteAccess(Kind kind) {
  return kind == Kind::kJobs || kind == Kind::kCollections ? Access::kWrite : Access::kAdmin;
}

// The five CRUD routes of one collection; jobs plug their own create/patch/delete.
void AddCrud(std::vector<Route>& routes, ApiContext& ctx, Kind kind) {
  const std::string base = "/" + std::string(CollectionName(kind));
  const std::string schema(SchemaName(kind));
  const std::string tag(CollectionName(kind));
  const bool jobs = kind == Kind::kJobs;
  const bool open = IsOpenSchema(kind);
  if (jobs) {
    routes.push_back({"POST", base, tag,
                      "Create a job (JSON, or a text/csv body with columns accession_number, patient_id, "
                      "study_instance_uid and researcher_id, name in the query string): 202, resolved in the "
                      "background",
                      JobCsvParams(), false, schema + "Create", schema, 202, "application/json", Bind(ctx, CreateJob),
                      WriteAccess(kind)});
    routes.back().csv_body = true;
  } else {
    routes.push_back({"POST", base, tag, "Create a document in " + tag, {}, false, schema + "Create", schema, 201,
                      "application/json", Bind(ctx, kind, CreateDocument), WriteAccess(kind)});
  }
  routes.push_back({"GET", base, tag, "List and filter " + tag, ListParams(kind), open, "", "List", 200,
                    "application/json", Bind(ctx, kind, ListDocuments)});
  routes.push_back({"GET", base + "/{id}", tag, "Get one document of " + tag + " by _id", {}, false, "", schema, 200,
                    "application/json", jobs ? Bind(ctx, GetJob) : Bind(ctx, kind, GetDocument)});
  routes.push_back({"PATCH", base + "/{id}", tag, "Change fields of a document (null removes a field)", {}, false,
                    schema + "Patch", schema, 200, "application/json",
                    jobs ? Bind(ctx, PatchJob) : Bind(ctx, kind, PatchDocument), WriteAccess(kind)});
  routes.push_back({"DELETE", base + "/{id}", tag, "Delete a document", jobs ? std::vector<ParamDoc>{} : Cascade(),
                    false, "", "", 204, "", jobs ? Bind(ctx, DeleteJob) : Bind(ctx, kind, DeleteDocument),
                    WriteAccess(kind)});
}

}  // namespace

std::vector<Route> BuildRoutes(ApiContext& ctx) {
  std::vector<Route> routes;
  routes.push_back({"GET", "/health", "service", "Liveness and back-end", {}, false, "", "Health", 200,
                    "application/json", Bind(ctx, Health), Access::kPublic});
  // Job records are the jobs' own bookkeeping, read through /jobs/{id}/report and /snapshots only.
  for (Kind kind : kAllKinds) {
    if (kind != Kind::kJobRecords) AddCrud(routes, ctx, kind);
  }

  routes.push_back({"POST", "/collections/{id}/cases", "collections",
                    "Append cases {case_id, patient_id, accession_numbers[]} (409 on a duplicate case_id)", {}, false,
                    "CasesAppend", "Collection", 200, "application/json", Bind(ctx, AppendCases), Access::kWrite});
  routes.push_back({"GET", "/collections/{id}/studies", "collections",
                    "Studies of a collection: tagged with its id, or whose patient_id / accession_number one of its "
                    "cases names",
                    ListParams(Kind::kStudies), true, "", "List", 200, "application/json",
                    Bind(ctx, CollectionStudies)});
  routes.push_back({"GET", "/collections/{id}/summary", "collections",
                    "Counts per level (cases, patients, studies, series, instances) and breakdowns by modality, "
                    "manufacturer, kernel and slice thickness of the collection's series",
                    {}, false, "", "CollectionSummary", 200, "application/json", Bind(ctx, CollectionSummary)});
  routes.push_back({"POST", "/jobs/{id}/run", "jobs", "Resolve the job again (202; in the background)", {}, false, "",
                    "Job", 202, "application/json", Bind(ctx, RunJob), Access::kWrite});
  routes.push_back({"GET", "/jobs/{id}/report", "jobs",
                    "Per-identifier resolution report: matched (with counts), missing or ambiguous (with the reason)",
                    {{"format", "string", "json (default) or csv"},
                     {"status", "string", "matched | missing | ambiguous"},
                     {"skip", "integer", "entries to skip"},
                     {"limit", "integer", "page size (JSON: default 50, max 1000; CSV: all by default)"}},
                    false, "", "JobReport", 200, "application/json", Bind(ctx, JobReport)});
  routes.push_back({"GET", "/jobs/{id}/snapshots", "jobs",
                    "The job's snapshots, oldest first: hash of the matched series UIDs, count, when, which ingest, "
                    "series added/removed",
                    {}, false, "", "JobSnapshots", 200, "application/json", Bind(ctx, JobSnapshots)});
  routes.push_back({"GET", "/researchers/{id}/jobs", "researchers",
                    "A researcher's jobs (by _id or researcher_id)", ListParams(Kind::kJobs), false, "", "List", 200,
                    "application/json", Bind(ctx, ResearcherJobs)});
  routes.push_back({"GET", "/studies/{id}/series", "studies", "Series of a study (by series_number)",
                    PagingParams(true), false, "", "List", 200, "application/json",
                    Bind(ctx, Kind::kSeries, ListChildren)});
  routes.push_back({"GET", "/series/{id}/instances", "series", "Instances of a series (by instance_number)",
                    PagingParams(true), false, "", "List", 200, "application/json",
                    Bind(ctx, Kind::kInstances, ListChildren)});
  routes.push_back({"GET", "/series/{id}/annotations", "annotations",
                    "LIDC reader annotations of a series, with its physical nodules (clusters: readers, median "
                    "ratings, median diameter)",
                    ListParams(Kind::kAnnotations), false, "", "List", 200, "application/json",
                    Bind(ctx, SeriesAnnotations)});
  for (Kind kind : {Kind::kStudies, Kind::kSeries, Kind::kInstances}) {
    const std::string tag(CollectionName(kind));
    routes.push_back({"GET", "/" + tag + "/uid/{uid}", tag, "Get one document of " + tag + " by its DICOM UID", {},
                      false, "", std::string(SchemaName(kind)), 200, "application/json",
                      Bind(ctx, kind, GetDocumentByUid)});
  }

  routes.push_back({"POST", "/query", "query",
                    "Filter any collection with the MongoDB-style filter language; answers results and total", {},
                    false, "QueryRequest", "List", 200, "application/json", Bind(ctx, PostQuery)});
  routes.push_back({"POST", "/cohort", "query",
                    "Cross-level cohort: filters on studies, series and instances; the page of the returned level "
                    "with its total and exact counts of patients, studies, series and instances",
                    {}, false, "CohortRequest", "CohortList", 200, "application/json", Bind(ctx, PostCohort)});
  routes.push_back({"POST", "/nl/translate", "query",
                    "Translate a plain-language question (offline grammar) into the /query or /cohort body it means, "
                    "with the fields it touched, the words not understood and the count it would answer",
                    {}, false, "NlRequest", "NlTranslation", 200, "application/json", Bind(ctx, NlTranslate)});
  // Streamed bodies in one of three formats (the format parameter chooses which).
  const std::string export_types = "text/csv|application/x-ndjson|text/plain";
  routes.push_back({"GET", "/collections/{id}/export", "collections",
                    "Export a collection's studies, series or instances (those tagged with it) as CSV, JSON lines or a "
                    "TCIA manifest, streamed; optional ML split by patient",
                    ExportParams(true), false, "", "", 200, export_types, Bind(ctx, CollectionExport)});
  routes.push_back({"POST", "/query/export", "query",
                    "Export every match of a /query body (its collection is the level; skip/limit/sort do not apply) "
                    "as CSV, JSON lines or a TCIA manifest, streamed",
                    ExportParams(false), false, "QueryRequest", "", 200, export_types, Bind(ctx, QueryExport)});
  routes.push_back({"POST", "/cohort/export", "query",
                    "Export every member of a /cohort body's returned level (skip/limit/sort do not apply) as CSV, "
                    "JSON lines or a TCIA manifest, streamed",
                    ExportParams(false), false, "CohortRequest", "", 200, export_types, Bind(ctx, CohortExport)});
  routes.push_back({"GET", "/available-fields", "discovery",
                    "The schema fields of a level, as the earlier FastAPI app answered: {\"fields\": [...]}",
                    {{"collection", "string", "studies | series | instances", true},
                     {"collection_id", "string", "accepted for compatibility (ignored)"}},
                    false, "", "AvailableFields", 200, "application/json", Bind(ctx, AvailableFields)});
  routes.push_back({"GET", "/available-metadata-fields", "discovery",
                    "The metadata keywords present at a level (optionally of one collection's documents): "
                    "{\"metadata_fields\": [...]}",
                    {{"collection", "string", "studies | series | instances", true},
                     {"collection_id", "string", "only documents tagged with this collection (24-hex)"}},
                    false, "", "AvailableMetadataFields", 200, "application/json",
                    Bind(ctx, AvailableMetadataFields)});
  routes.push_back({"GET", "/fields", "discovery",
                    "Fields present in a collection: promoted and metadata.*, with counts, types and top values",
                    {{"collection", "string", "studies | series | instances | ... (default series)"}}, false, "",
                    "Fields", 200, "application/json", Bind(ctx, FieldsOf)});
  routes.push_back({"GET", "/stats", "discovery", "Document counts and distributions for the dashboard", {}, false,
                    "", "Stats", 200, "application/json", Bind(ctx, Stats)});
  routes.push_back({"GET", "/errors", "discovery", "The ingest error register (failing paths and reasons)",
                    PagingParams(false), false, "", "List", 200, "application/json", Bind(ctx, ErrorsList)});

  routes.push_back({"POST", "/researchers/{id}/tokens", "access",
                    "Create an API token for a researcher: the token is in this answer only (stored as a salted hash)",
                    {}, false, "TokenCreate", "TokenCreated", 201, "application/json", Bind(ctx, CreateToken),
                    Access::kAdmin});
  routes.push_back({"GET", "/researchers/{id}/tokens", "access", "A researcher's API tokens (never their secrets)", {},
                    false, "", "TokenList", 200, "application/json", Bind(ctx, ListTokens), Access::kAdmin});
  routes.push_back({"DELETE", "/researchers/{id}/tokens/{token_id}", "access",
                    "Revoke an API token (it stops working at once; the record stays, marked revoked)", {}, false, "",
                    "", 204, "", Bind(ctx, RevokeToken), Access::kAdmin});
  routes.push_back({"GET", "/auth/whoami", "access", "Who the presented token authenticates (role, researcher)", {},
                    false, "", "WhoAmI", 200, "application/json", Bind(ctx, WhoAmI)});
  routes.push_back({"GET", "/audit", "access",
                    "The audit log, newest first: writes, exports, refused token uses, ingest/check/migrate runs "
                    "(read-only: no endpoint changes it)",
                    AuditParams(), false, "", "AuditList", 200, "application/json", Bind(ctx, ListAudit),
                    Access::kAdmin});

  AddDictionaryRoutes(routes, ctx);

  routes.push_back({"GET", "/openapi.json", "docs", "This OpenAPI 3.0.3 document", {}, false, "", "OpenApi", 200,
                    "application/json", Bind(ctx, OpenApiDocument), Access::kPublic});
  routes.push_back({"GET", "/docs", "docs", "Swagger UI", {}, false, "", "", 200, "text/html",
                    Bind(ctx, SwaggerPage), Access::kPublic});
  routes.push_back({"GET", "/docs/{file}", "docs", "Swagger UI assets (swagger-ui-dist)", {}, false, "", "", 200,
                    "application/octet-stream", Bind(ctx, SwaggerAsset), Access::kPublic});
  // Exports (issue #11) are audited like writes, whichever route serves them.
  // Creates answer inserted_id beside the document (the earlier FastAPI app's answer), whichever handler makes them.
  for (Route& route : routes) {
    if (route.pattern.ends_with("/export")) route.exports = true;
    for (Kind kind : kAllKinds) {
      if (route.method == "POST" && route.pattern == "/" + std::string(CollectionName(kind))) route.creates = true;
    }
  }
  return routes;
}

}  // namespace meta_db::db_api
