// Handlers of access control's endpoints: researchers' API tokens (create: shown once; list: never a secret;
// revoke), who the caller is (for the dashboard's sign-in), and the read-only audit log.
#include "db_api/api.hpp"
#include "db_api/audit.hpp"
#include "db_api/auth_tokens.hpp"
#include "db_api/listing.hpp"

#include "common/clock.hpp"
#include "common/error.hpp"

#include <boost/json/array.hpp>

namespace meta_db::db_api {

namespace {

boost::json::object TokenJson(const TokenRecord& token) {
  return {{"token_id", token.token_id},
          {"researcher", token.researcher},
          {"label", token.label},
          {"created_at", token.created_at},
          {"revoked_at", token.revoked_at.empty() ? boost::json::value(nullptr) : boost::json::value(token.revoked_at)}};
}

Response NoStore(Response response) {
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

std::string Label(const Request& request) {
  if (request.body.empty()) return {};
  const auto body = BodyObject(request);
  std::string label;
  for (const auto& [key, value] : body) {
    if (key != "label") {
      throw Error(Errc::kUnprocessable, "unknown field '" + std::string(key) + "'",
                  boost::json::object{{"field", key}});
    }
    if (!value.is_string() || value.as_string().size() > 200) {
      throw Error(Errc::kUnprocessable, "field 'label' must be a string of at most 200 characters",
                  boost::json::object{{"field", "label"}});
    }
    label = std::string(value.as_string());
  }
  return label;
}

}  // namespace

Response CreateToken(ApiContext& ctx, const Request& request) {
  const ObjectId researcher = PathId(request);
  const std::string label = Label(request);
  const NewToken fresh = GenerateToken(ObjectId::Generate().ToHex());
  TokenRecord record;
  record.token_id = fresh.token_id;
  record.researcher = researcher.ToHex();
  record.label = label;
  record.salt = fresh.salt;
  record.hash = fresh.hash;
  record.created_at = NowIsoUtc();
  ctx.store.Write([&](Session& session) {
    MustGet(session, Kind::kResearchers, researcher);
    session.PutToken(record);
  });
  boost::json::object body = TokenJson(record);
  body["token"] = fresh.token;
  Response response = NoStore(JsonResponse(201, body));
  response.headers.emplace_back("Location", "/researchers/" + researcher.ToHex() + "/tokens/" + record.token_id);
  return response;
}

Response ListTokens(ApiContext& ctx, const Request& request) {
  const ObjectId researcher = PathId(request);
  std::vector<TokenRecord> tokens;
  ctx.store.Read([&](Session& session) {
    MustGet(session, Kind::kResearchers, researcher);
    tokens = session.Tokens(researcher.ToHex());
  });
  boost::json::array results;
  for (const TokenRecord& token : tokens) results.push_back(TokenJson(token));
  const auto total = static_cast<std::int64_t>(results.size());
  return NoStore(JsonResponse(
      200, boost::json::object{{"results", std::move(results)}, {"total", total}, {"limit", total}, {"skip", 0}}));
}

Response RevokeToken(ApiContext& ctx, const Request& request) {
  const ObjectId researcher = PathId(request);
  const std::string& token_id = request.PathParam("token_id");
  ctx.store.Write([&](Session& session) {
    auto token = session.GetToken(token_id);
    // Another researcher's token is "not found" here: the path names the owner.
    if (!token || token->researcher != researcher.ToHex()) {
      throw Error(Errc::kNotFound, "token " + token_id + " of researcher " + researcher.ToHex() + " not found",
                  boost::json::object{{"token_id", token_id}});
    }
    session.RevokeToken(token_id, NowIsoUtc());
  });
  Response response;
  response.status = 204;
  response.content_type.clear();
  return response;
}

Response WhoAmI(ApiContext&, const Request& request) {
  const Caller& caller = request.caller;
  boost::json::object body{{"role", RoleName(caller.role)}};
  body["researcher"] = caller.researcher.empty() ? boost::json::value(nullptr) : boost::json::value(caller.researcher);
  body["researcher_id"] =
      caller.researcher_id.empty() ? boost::json::value(nullptr) : boost::json::value(caller.researcher_id);
  body["token_id"] = caller.token_id.empty() ? boost::json::value(nullptr) : boost::json::value(caller.token_id);
  return JsonResponse(200, body);
}

Response ListAudit(ApiContext& ctx, const Request& request) {
  AuditQuery query;
  ParsePaging(request, query.skip, query.limit);
  for (const auto& [name, value] : request.query) {
    if (name == "actor") query.actor = value;
    if (name == "researcher_id") query.researcher_id = value;
    if (name == "token_id") query.token_id = value;
    if (name == "action") query.action = value;
    if (name == "kind") query.kind = value;
    if (name == "method") query.method = value;
    if (name == "path_prefix") query.path_prefix = value;
    if (name == "status") {
      if (value.empty() || value.size() > 3 || value.find_first_not_of("0123456789") != std::string::npos) {
        throw Error(Errc::kBadRequest, "query parameter 'status' must be an integer",
                    boost::json::object{{"parameter", "status"}});
      }
      query.status = std::stoi(value);
    }
    if (name == "since" || name == "until") {
      // Years past 2199 are refused before parsing: the clock's nanosecond time points end in 2262.
      const bool plausible = value.size() >= 4 && value.substr(0, 4) >= "1970" && value.substr(0, 4) <= "2199";
      if (!plausible || !ParseIsoUtc(value)) {
        throw Error(Errc::kBadRequest,
                    "query parameter '" + name + "' must be an ISO-8601 UTC date or time between 1970 and 2199",
                    boost::json::object{{"parameter", name}});
      }
      // Records' times are ISO-8601 UTC strings of one width, so a date or a shorter time compares as its prefix.
      std::string bound = value;
      if (bound.ends_with('Z')) bound.pop_back();
      (name == "since" ? query.since : query.until) = bound;
    }
  }
  AuditPage page;
  ctx.store.Read([&](Session& session) { page = session.FindAudit(query); });
  boost::json::array results;
  for (const AuditRecord& record : page.records) results.push_back(AuditJson(record));
  return NoStore(JsonResponse(200, boost::json::object{{"results", std::move(results)},
                                                       {"total", page.total},
                                                       {"limit", query.limit},
                                                       {"skip", query.skip}}));
}

}  // namespace meta_db::db_api
