// Request helpers and target parsing (Boost.URL does the percent-decoding).
#include "db_api/http.hpp"

#include "common/json_io.hpp"
#include "common/utf8.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <algorithm>
#include <cctype>

namespace meta_db::db_api {

std::optional<std::string> Request::Param(std::string_view name) const {
  for (const auto& [key, value] : query) {
    if (key == name) return value;
  }
  return std::nullopt;
}

std::string Request::Header(std::string_view lower_name) const {
  auto it = headers.find(std::string(lower_name));
  return it == headers.end() ? std::string() : it->second;
}

Response JsonResponse(int status, const boost::json::value& value) {
  Response response;
  response.status = status;
  response.body = ToJson(value);
  return response;
}

Response ErrorResponse(const Error& error) { return JsonResponse(HttpStatus(error.code()), ErrorBody(error)); }

void AddInsertedId(Response& response) {
  if ((response.status != 201 && response.status != 202) || response.content_type != "application/json" ||
      response.stream) {
    return;
  }
  boost::json::object body;
  try {
    body = ParseJsonObject(response.body);
  } catch (const Error&) {
    return;  // not a document: nothing to name
  }
  const auto* id = body.if_contains("_id");
  if (id == nullptr || !id->is_string() || body.contains("inserted_id")) return;
  body["inserted_id"] = *id;
  response.body = ToJson(body);
}

void ApplySafeDefaults(Response& response) {
  // 'self' only: the dashboard and Swagger UI load scripts, styles and data from this server alone. Inline styles are
  // allowed (both set style attributes from script); inline scripts are not (Swagger's start-up is /docs/init.js).
  static constexpr std::string_view kPolicy =
      "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
      "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
      "frame-ancestors 'none'";
  bool has_cache_control = false;
  for (const auto& [name, value] : response.headers) {
    if (name.size() == 13 && std::equal(name.begin(), name.end(), "cache-control", [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == b;
        })) {
      has_cache_control = true;
    }
  }
  if (!has_cache_control) response.headers.emplace_back("Cache-Control", "no-store");
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  response.headers.emplace_back("Referrer-Policy", "no-referrer");
  response.headers.emplace_back("X-Frame-Options", "DENY");
  response.headers.emplace_back("Content-Security-Policy", std::string(kPolicy));
}

void ParseTarget(std::string_view target, Request& request) {
  auto parsed = boost::urls::parse_origin_form(target);
  if (!parsed) throw Error(Errc::kBadRequest, "malformed request target");
  const boost::urls::url_view& url = *parsed;
  request.path = url.path();
  // params() percent-decodes keys and values and reads '+' as a space, as HTML forms send it.
  for (auto param : url.params()) {
    request.query.emplace_back(param.key, param.has_value ? param.value : std::string());
  }
  // Decoded text goes into filters, stored documents and the messages of error answers: all JSON, so all UTF-8.
  bool utf8 = IsValidUtf8(request.path);
  for (const auto& [key, value] : request.query) utf8 = utf8 && IsValidUtf8(key) && IsValidUtf8(value);
  if (!utf8) throw Error(Errc::kBadRequest, "malformed request target: percent-decodes to invalid UTF-8");
}

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kLocal: return "local";
    case Role::kAdmin: return "admin";
    case Role::kResearcher: return "researcher";
    case Role::kAnonymous: return "anonymous";
  }
  return "anonymous";
}

}  // namespace meta_db::db_api
