// The one route table: each entry carries its handler AND its OpenAPI description, so routing and
// /openapi.json are generated from the same data and cannot drift apart.
#pragma once

#include "db_api/http.hpp"

#include <boost/json/object.hpp>

#include <functional>
#include <string>
#include <vector>

namespace meta_db::db_api {

using Handler = std::function<Response(const Request&)>;

// A documented query parameter. `type` is an OpenAPI primitive: "string", "integer", "number", "boolean".
struct ParamDoc {
  std::string name;
  std::string type = "string";
  std::string description;
  bool required = false;
};

struct Route {
  std::string method;   // "GET", "POST", "PATCH", "DELETE"
  std::string pattern;  // "/studies/{id}"; "{name}" matches one non-empty segment
  std::string tag;      // OpenAPI group
  std::string summary;
  std::vector<ParamDoc> query;      // the ONLY query parameters accepted (strict: others are a 400)
  bool metadata_params = false;     // also accept any "metadata.<Keyword>" parameter
  std::string request_schema;       // components/schemas name of the JSON body, "" for none
  std::string response_schema;      // components/schemas name of a 2xx JSON body, "" for non-JSON
  int success_status = 200;
  std::string success_content_type = "application/json";
  Handler handler;
};

class Router {
 public:
  explicit Router(std::vector<Route> routes) : routes_(std::move(routes)) {}

  // Routes the request: 404 for an unknown path, 405 (with Allow) for a wrong method, 400 for an unknown query
  // parameter, 415 for a body that is not application/json; every exception becomes a JSON error response.
  // `fallback` (static files) is tried for GET requests no route matches; it returns nullopt to decline.
  Response Dispatch(Request& request, const std::function<std::optional<Response>(const Request&)>& fallback) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

// Matches a pattern against a path, filling `params` with the "{name}" segments.
bool MatchPattern(std::string_view pattern, std::string_view path, std::map<std::string, std::string>& params);

// The OpenAPI 3.0.3 document for a route table; `schemas` are the components/schemas.
boost::json::object BuildOpenApi(const std::vector<Route>& routes, boost::json::object schemas);

}  // namespace meta_db::db_api
