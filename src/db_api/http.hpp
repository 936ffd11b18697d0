// Transport-free HTTP request/response values, so handlers stay pure and never include Beast.
#pragma once

#include "common/error.hpp"

#include <boost/json/value.hpp>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace meta_db::db_api {

struct Request {
  std::string method;  // upper case, "GET"
  std::string path;    // percent-decoded path without the query string
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order of appearance
  std::map<std::string, std::string> headers;              // names lower-cased
  std::string body;
  std::map<std::string, std::string> path_params;  // filled by the router from "{name}" segments

  // The first value of query parameter `name`, if present.
  std::optional<std::string> Param(std::string_view name) const;
  std::string Header(std::string_view lower_name) const;
  const std::string& PathParam(const std::string& name) const { return path_params.at(name); }
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers (Allow, Cache-Control, ...)
};

Response JsonResponse(int status, const boost::json::value& value);
Response ErrorResponse(const Error& error);

// The headers every answer carries (docs/security.md "Limits and safe defaults"): nosniff, no referrer, no framing,
// a Content-Security-Policy the dashboard and /docs work under, and Cache-Control: no-store unless the response set
// its own (static assets do). Added by the transport to every response, rejections included.
void ApplySafeDefaults(Response& response);

// Splits an origin-form target ("/a%20b?x=1&y") into a decoded path and parameters; kBadRequest if malformed.
void ParseTarget(std::string_view target, Request& request);

}  // namespace meta_db::db_api
