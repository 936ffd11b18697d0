// Jobs: a researcher's request for studies by accession number, patient id or StudyInstanceUID. Creating one
// stores it queued and hands it to the server's background runner (catalog::ResolveJob does the work); the
// handlers here validate, answer 202, and read the report and snapshots the resolution recorded.
#include "db_api/api.hpp"
#include "db_api/auth.hpp"
#include "db_api/job_csv.hpp"
#include "db_api/job_runner.hpp"
#include "db_api/listing.hpp"
#include "db_api/models.hpp"

#include "catalog/catalog.hpp"
#include "catalog/job_resolution.hpp"
#include "common/error.hpp"

#include <boost/json/array.hpp>

#include <charconv>
#include <string>

namespace meta_db::db_api {

namespace {

constexpr std::string_view kIdentifierLists[] = {"accession_numbers", "patient_ids", "study_instance_uids"};

// Adds or removes a job id in researchers.jobs[] of the researcher with this business id (if registered).
void LinkResearcher(Session& session, const boost::json::value& researcher_id, const std::string& job_id, bool add) {
  if (!researcher_id.is_string()) return;
  auto researcher = session.GetByKey(Kind::kResearchers, researcher_id.as_string());
  if (!researcher) return;
  boost::json::array jobs;
  if (const auto* old = researcher->if_contains("jobs"); old != nullptr && old->is_array()) {
    for (const auto& id : old->as_array()) {
      if (id != boost::json::value(job_id)) jobs.push_back(id);
    }
  }
  if (add) jobs.emplace_back(job_id);
  const auto rid = ObjectId::Parse(researcher->at("_id").as_string());
  catalog::Patch(session, Kind::kResearchers, *rid, {{"jobs", std::move(jobs)}});
}

std::string MediaType(const Request& request) {
  std::string type = request.Header("content-type");
  type = type.substr(0, type.find(';'));
  std::transform(type.begin(), type.end(), type.begin(), [](unsigned char c) { return std::tolower(c); });
  while (!type.empty() && type.back() == ' ') type.pop_back();
  return type;
}

boost::json::array ToArray(const std::vector<std::string>& values) {
  boost::json::array out;
  out.reserve(values.size());
  for (const std::string& v : values) out.emplace_back(v);
  return out;
}

// The job's body: JSON, or a text/csv body with researcher_id, name (and collection_id) in the query string.
boost::json::object JobBody(const Request& request) {
  const std::string type = MediaType(request);
  if (type == "text/csv") {
    JobCsvIdentifiers ids = ParseJobCsv(request.body);
    boost::json::object body;
    for (const char* name : {"researcher_id", "name", "collection_id"}) {
      if (auto value = request.Param(name)) body[name] = *value;
    }
    if (!ids.accession_numbers.empty()) body["accession_numbers"] = ToArray(ids.accession_numbers);
    if (!ids.patient_ids.empty()) body["patient_ids"] = ToArray(ids.patient_ids);
    if (!ids.study_instance_uids.empty()) body["study_instance_uids"] = ToArray(ids.study_instance_uids);
    return body;
  }
  if (type != "application/json") {
    throw Error(Errc::kUnsupportedMediaType, "a job's body is application/json or text/csv",
                boost::json::object{{"content_type", type}});
  }
  for (const char* name : {"researcher_id", "name", "collection_id"}) {
    if (request.Param(name)) {
      throw Error(Errc::kBadRequest, std::string("query parameter '") + name + "' goes with a text/csv body only",
                  boost::json::object{{"parameter", name}});
    }
  }
  return BodyObject(request);
}

// 422 for a job without identifiers, 413 past the limit.
void CheckIdentifiers(const boost::json::object& job) {
  std::size_t count = 0;
  for (std::string_view list : kIdentifierLists) {
    if (const auto* ids = job.if_contains(list); ids != nullptr && ids->is_array()) count += ids->as_array().size();
  }
  if (count == 0) {
    throw Error(Errc::kUnprocessable, "a job needs at least one accession number, patient id or StudyInstanceUID",
                boost::json::object{{"field", "accession_numbers"}});
  }
  if (count > catalog::kMaxJobIdentifiers) {
    throw Error(Errc::kPayloadTooLarge,
                "a job names at most " + std::to_string(catalog::kMaxJobIdentifiers) + " identifiers (" +
                    std::to_string(count) + " given)",
                boost::json::object{{"limit", catalog::kMaxJobIdentifiers}, {"given", count}});
  }
}

void RequireResearcher(Session& session, const boost::json::object& job) {
  const auto* rid = job.if_contains("researcher_id");
  if (rid == nullptr || !rid->is_string() || !session.GetByKey(Kind::kResearchers, rid->as_string())) {
    const std::string name = rid != nullptr && rid->is_string() ? std::string(rid->as_string()) : std::string();
    throw Error(Errc::kNotFound, "researcher " + name + " not found",
                boost::json::object{{"collection", "researchers"}, {"researcher_id", name}});
  }
}

// Resolution in the background when the server runs a runner; in place otherwise (in-process route tests).
void Schedule(ApiContext& ctx, const ObjectId& id) {
  if (ctx.jobs != nullptr) {
    ctx.jobs->Enqueue(id);
  } else {
    catalog::ResolveJob(ctx.store, id);
  }
}

// The stored job, with the live progress of a running resolution.
Document WithProgress(ApiContext& ctx, Document job) {
  if (ctx.jobs == nullptr) return job;
  if (auto live = ctx.jobs->Progress(*ObjectId::Parse(job.at("_id").as_string()))) {
    job["status"] = "running";
    job["progress"] = *live;
  }
  return job;
}

Response Accepted(Document job) {
  Response response = JsonResponse(202, job);
  response.headers.emplace_back("Location", "/jobs/" + std::string(job.at("_id").as_string()));
  return response;
}

std::int64_t IntParam(const Request& request, std::string_view name, std::int64_t fallback, std::int64_t max) {
  auto text = request.Param(name);
  if (!text) return fallback;
  std::int64_t value = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || end != text->data() + text->size() || value < 0 || value > max) {
    throw Error(Errc::kBadRequest, "query parameter '" + std::string(name) + "' must be an integer 0.." +
                                       std::to_string(max),
                boost::json::object{{"parameter", name}});
  }
  return value;
}

// RFC 4180 quoting for the CSV report.
std::string CsvCell(std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

Response CreateJob(ApiContext& ctx, const Request& request) {
  boost::json::object body = JobBody(request);
  boost::json::object job = ValidateBody(Kind::kJobs, Mode::kCreate, std::move(body));
  CheckIdentifiers(job);
  // A researcher files jobs under its own business id only.
  RequireOwner(request, Kind::kJobs, job);
  job["status"] = "queued";
  job["progress"] = 0;
  for (std::string_view list : kIdentifierLists) {
    if (!job.contains(list)) job[list] = boost::json::array{};
  }
  Document stored;
  ctx.store.Write([&](Session& session) {
    RequireResearcher(session, job);
    CheckReferences(session, Kind::kJobs, job);
    stored = catalog::Create(session, Kind::kJobs, std::move(job));
    LinkResearcher(session, stored.at("researcher_id"), std::string(stored.at("_id").as_string()), true);
  });
  Touch(ctx);
  const ObjectId id = *ObjectId::Parse(stored.at("_id").as_string());
  Schedule(ctx, id);
  if (ctx.jobs == nullptr) ctx.store.Read([&](Session& session) { stored = MustGet(session, Kind::kJobs, id); });
  return Accepted(std::move(stored));
}

Response GetJob(ApiContext& ctx, const Request& request) {
  const ObjectId id = PathId(request);
  Document job;
  ctx.store.Read([&](Session& session) { job = MustGet(session, Kind::kJobs, id); });
  return JsonResponse(200, WithProgress(ctx, std::move(job)));
}

Response RunJob(ApiContext& ctx, const Request& request) {
  const ObjectId id = PathId(request);
  Document stored;
  ctx.store.Write([&](Session& session) {
    Document job = MustGet(session, Kind::kJobs, id);
    RequireOwner(request, Kind::kJobs, job);
    stored = catalog::Patch(session, Kind::kJobs, id, {{"status", "queued"}, {"progress", 0}});
  });
  Touch(ctx);
  Schedule(ctx, id);
  if (ctx.jobs == nullptr) ctx.store.Read([&](Session& session) { stored = MustGet(session, Kind::kJobs, id); });
  return Accepted(std::move(stored));
}

Response PatchJob(ApiContext& ctx, const Request& request) {
  const ObjectId id = PathId(request);
  boost::json::object patch = ValidateBody(Kind::kJobs, Mode::kPatch, BodyObject(request));
  KeepOwnership(request, patch, "researcher_id");
  bool identifiers_changed = false;
  for (std::string_view list : kIdentifierLists) identifiers_changed |= patch.contains(list);
  identifiers_changed |= patch.contains("collection_id");
  Document stored;
  ctx.store.Write([&](Session& session) {
    Document old = MustGet(session, Kind::kJobs, id);
    RequireOwner(request, Kind::kJobs, old);
    CheckReferences(session, Kind::kJobs, patch);
    if (identifiers_changed) {
      boost::json::object merged = old;
      for (const auto& [key, value] : patch) merged[key] = value;
      CheckIdentifiers(merged);
      patch["status"] = "queued";
      patch["progress"] = 0;
    }
    if (patch.contains("researcher_id")) RequireResearcher(session, patch);
    stored = catalog::Patch(session, Kind::kJobs, id, patch);
    if (patch.contains("researcher_id") && old.if_contains("researcher_id") &&
        old.at("researcher_id") != stored.at("researcher_id")) {
      LinkResearcher(session, old.at("researcher_id"), id.ToHex(), false);
      LinkResearcher(session, stored.at("researcher_id"), id.ToHex(), true);
    }
  });
  Touch(ctx);
  if (identifiers_changed) {
    Schedule(ctx, id);
    if (ctx.jobs == nullptr) ctx.store.Read([&](Session& session) { stored = MustGet(session, Kind::kJobs, id); });
  }
  return JsonResponse(200, stored);
}

Response DeleteJob(ApiContext& ctx, const Request& request) {
  const ObjectId id = PathId(request);
  ctx.store.Write([&](Session& session) {
    Document old = MustGet(session, Kind::kJobs, id);
    RequireOwner(request, Kind::kJobs, old);
    catalog::UnlinkJob(session, old);
    catalog::Remove(session, Kind::kJobs, id, false);
    if (const auto* rid = old.if_contains("researcher_id")) LinkResearcher(session, *rid, id.ToHex(), false);
  });
  Touch(ctx);
  Response response;
  response.status = 204;
  response.content_type.clear();
  return response;
}

Response ResearcherJobs(ApiContext& ctx, const Request& request) {
  const std::string& key = request.PathParam("id");
  std::string researcher_id;
  ctx.store.Read([&](Session& session) {
    std::optional<Document> researcher;
    if (auto id = ObjectId::Parse(key)) researcher = session.Get(Kind::kResearchers, *id);
    if (!researcher) researcher = session.GetByKey(Kind::kResearchers, key);
    if (!researcher) {
      throw Error(Errc::kNotFound, "researcher " + key + " not found",
                  boost::json::object{{"collection", "researchers"}, {"id", key}});
    }
    researcher_id = std::string(researcher->at("researcher_id").as_string());
  });
  const query::Query query = BuildListQuery(Kind::kJobs, request, {{"researcher_id", researcher_id}});
  FindResult result;
  ctx.store.Read([&](Session& session) { result = session.Find(Kind::kJobs, query); });
  return ListResponse(result, query);
}

Response JobReport(ApiContext& ctx, const Request& request) {
  const ObjectId id = PathId(request);
  const std::string format = request.Param("format").value_or("json");
  if (format != "json" && format != "csv") {
    throw Error(Errc::kBadRequest, "query parameter 'format' must be json or csv",
                boost::json::object{{"parameter", "format"}});
  }
  const std::string status = request.Param("status").value_or("");
  if (!status.empty() && status != "matched" && status != "missing" && status != "ambiguous") {
    throw Error(Errc::kBadRequest, "query parameter 'status' must be matched, missing or ambiguous",
                boost::json::object{{"parameter", "status"}});
  }
  const bool csv = format == "csv";
  const std::int64_t skip = IntParam(request, "skip", 0, 1 << 30);
  const std::int64_t limit = IntParam(request, "limit", csv ? -1 : query::kDefaultLimit, csv ? (1 << 30) : query::kMaxLimit);
  catalog::ReportPage page;
  Document job;
  ctx.store.Read([&](Session& session) {
    job = MustGet(session, Kind::kJobs, id);
    page = catalog::JobReport(session, id, status, skip, limit);
  });
  if (csv) {
    Response response;
    response.content_type = "text/csv; charset=utf-8";
    response.headers.emplace_back("Content-Disposition", "attachment; filename=\"job-" + id.ToHex() + "-report.csv\"");
    std::string& out = response.body;
    out = "identifier,type,status,reason,patient_id,studies,series,instances\r\n";
    for (const Document& e : page.results) {
      for (const char* field : {"identifier", "type", "status", "reason", "patient_id"}) {
        out += CsvCell(e.at(field).as_string());
        out += ',';
      }
      out += std::to_string(e.at("studies").to_number<std::int64_t>()) + "," +
             std::to_string(e.at("series").to_number<std::int64_t>()) + "," +
             std::to_string(e.at("instances").to_number<std::int64_t>()) + "\r\n";
    }
    return response;
  }
  boost::json::array results;
  for (Document& e : page.results) results.emplace_back(std::move(e));
  const auto* totals = job.if_contains("totals");
  return JsonResponse(200, boost::json::object{{"results", std::move(results)},
                                               {"total", page.total},
                                               {"totals", totals ? *totals : boost::json::value(nullptr)}});
}

Response JobSnapshots(ApiContext& ctx, const Request& request) {
  const ObjectId id = PathId(request);
  std::vector<Document> snapshots;
  ctx.store.Read([&](Session& session) {
    MustGet(session, Kind::kJobs, id);
    snapshots = catalog::JobSnapshots(session, id);
  });
  boost::json::array results;
  for (Document& s : snapshots) results.emplace_back(std::move(s));
  const auto total = static_cast<std::int64_t>(results.size());
  return JsonResponse(200, boost::json::object{{"results", std::move(results)}, {"total", total}});
}

}  // namespace meta_db::db_api
