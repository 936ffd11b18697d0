// Request helpers and target parsing (Boost.URL does the percent-decoding).
#include "db_api/http.hpp"

#include "common/json_io.hpp"
#include "common/utf8.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

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

}  // namespace meta_db::db_api
