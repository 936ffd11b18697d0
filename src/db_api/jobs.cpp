// Jobs: a researcher's request for studies by accession number / patient id. Creating (or re-targeting) a job
// resolves its identifiers against the stored studies and links the job into researchers.jobs[].
#include "db_api/api.hpp"
#include "db_api/auth.hpp"
#include "db_api/listing.hpp"
#include "db_api/models.hpp"

#include "catalog/catalog.hpp"
#include "common/error.hpp"

#include <boost/json/array.hpp>

#include <set>
#include <string>

namespace meta_db::db_api {

namespace {

constexpr std::size_t kChunk = 1000;  // keeps each $in list far below the filter language's 10,000 cap

std::vector<std::string> Strings(const boost::json::object& doc, std::string_view field) {
  std::vector<std::string> out;
  if (const auto* array = doc.if_contains(field); array != nullptr && array->is_array()) {
    for (const auto& item : array->as_array()) {
      if (item.is_string()) out.emplace_back(item.as_string());
    }
  }
  return out;
}

// Collects the values of `field` over all studies whose `field` is one of `wanted`; returns matched study ids.
void MatchField(Session& session, std::string_view field, const std::vector<std::string>& wanted,
                std::set<std::string>& found, std::set<std::string>& study_ids) {
  for (std::size_t start = 0; start < wanted.size(); start += kChunk) {
    boost::json::array values;
    for (std::size_t i = start; i < std::min(wanted.size(), start + kChunk); ++i) values.emplace_back(wanted[i]);
    query::Query query = MakeQuery({{field, {{"$in", std::move(values)}}}});
    query.projection = query::Projection{true, {std::string(field)}};
    query.count_total = false;
    query.limit = query::kMaxLimit;
    for (query.skip = 0;; query.skip += query.limit) {
      FindResult page = session.Find(Kind::kStudies, query);
      for (const Document& study : page.results) {
        if (const auto* v = study.if_contains(field); v != nullptr && v->is_string()) found.emplace(v->as_string());
        if (const auto* id = study.if_contains("_id"); id != nullptr && id->is_string()) {
          study_ids.emplace(id->as_string());
        }
      }
      if (static_cast<std::int64_t>(page.results.size()) < query.limit) break;
    }
  }
}

// Fills matched (number of distinct stored studies) and unmatched (identifiers no study carries).
void Resolve(Session& session, boost::json::object& job) {
  const auto accessions = Strings(job, "accession_numbers");
  const auto patients = Strings(job, "patient_ids");
  std::set<std::string> found_accessions, found_patients, study_ids;
  MatchField(session, "accession_number", accessions, found_accessions, study_ids);
  MatchField(session, "patient_id", patients, found_patients, study_ids);
  boost::json::array unmatched;
  for (const auto& a : accessions) {
    if (!found_accessions.contains(a)) unmatched.emplace_back(a);
  }
  for (const auto& p : patients) {
    if (!found_patients.contains(p)) unmatched.emplace_back(p);
  }
  job["matched"] = static_cast<std::int64_t>(study_ids.size());
  job["unmatched"] = std::move(unmatched);
}

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

}  // namespace

Response CreateJob(ApiContext& ctx, const Request& request) {
  boost::json::object job = ValidateBody(Kind::kJobs, Mode::kCreate, BodyObject(request));
  // A researcher files jobs under its own business id only.
  RequireOwner(request, Kind::kJobs, job);
  Document stored;
  ctx.store.Write([&](Session& session) {
    CheckReferences(session, Kind::kJobs, job);
    Resolve(session, job);
    stored = catalog::Create(session, Kind::kJobs, std::move(job));
    LinkResearcher(session, stored.at("researcher_id"), std::string(stored.at("_id").as_string()), true);
  });
  Touch(ctx);
  Response response = JsonResponse(201, stored);
  response.headers.emplace_back("Location", "/jobs/" + std::string(stored.at("_id").as_string()));
  return response;
}

Response PatchJob(ApiContext& ctx, const Request& request) {
  const ObjectId id = PathId(request);
  boost::json::object patch = ValidateBody(Kind::kJobs, Mode::kPatch, BodyObject(request));
  KeepOwnership(request, patch, "researcher_id");
  Document stored;
  ctx.store.Write([&](Session& session) {
    Document old = MustGet(session, Kind::kJobs, id);
    RequireOwner(request, Kind::kJobs, old);
    CheckReferences(session, Kind::kJobs, patch);
    if (patch.contains("accession_numbers") || patch.contains("patient_ids")) {
      boost::json::object merged = old;
      for (const auto& [key, value] : patch) merged[key] = value;
      Resolve(session, merged);
      patch["matched"] = merged["matched"];
      patch["unmatched"] = merged["unmatched"];
    }
    stored = catalog::Patch(session, Kind::kJobs, id, patch);
    if (patch.contains("researcher_id") && old.if_contains("researcher_id") &&
        old.at("researcher_id") != stored.at("researcher_id")) {
      LinkResearcher(session, old.at("researcher_id"), id.ToHex(), false);
      LinkResearcher(session, stored.at("researcher_id"), id.ToHex(), true);
    }
  });
  Touch(ctx);
  return JsonResponse(200, stored);
}

Response DeleteJob(ApiContext& ctx, const Request& request) {
  const ObjectId id = PathId(request);
  ctx.store.Write([&](Session& session) {
    Document old = MustGet(session, Kind::kJobs, id);
    RequireOwner(request, Kind::kJobs, old);
    catalog::Remove(session, Kind::kJobs, id, false);
    if (const auto* rid = old.if_contains("researcher_id")) LinkResearcher(session, *rid, id.ToHex(), false);
  });
  Touch(ctx);
  Response response;
  response.status = 204;
  response.content_type.clear();
  return response;
}

}  // namespace meta_db::db_api
