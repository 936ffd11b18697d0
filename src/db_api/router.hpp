// The one route table: each entry carries its handler AND its OpenAPI description, so routing and
// /openapi.json are generated from the same data and cannot drift apart.
#pragma once

#include "db_api/http.hpp"

#include <boost/json/object.hpp>

#include <functional>
#include <optional>
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

// Who may call a route once an admin token is configured (docs/security.md, "Roles"). Without one, the single local
// user may call everything.
enum class Access {
  kPublic,  // no token needed (health, the API document, Swagger UI)
  kRead,    // any token; also anonymous under --public-read (read-only endpoints, including POST /query)
  kWrite,   // researchers and admins; the handler checks that a researcher writes only what it owns
  kAdmin,   // admins only (researchers, tokens, the audit log, deleting or changing catalogue documents)
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
  Access access = Access::kRead;
  bool exports = false;  // answers an export (audited like a write)
  bool creates = false;  // POST /<collection>: the answer also carries inserted_id (AddInsertedId)
  bool csv_body = false;  // also accepts a text/csv body (the handler parses it)
};

// Admission and accounting around every request (auth.cpp): authentication, authorization, rate limit, CORS, audit.
// `route` is null for requests no route matched (static files, 404, 405, preflight).
// Thread-safety: called from many threads at once.
class RequestGuard {
 public:
  virtual ~RequestGuard() = default;
  // A response to send instead of routing (401, 403, 429, a CORS preflight), or nullopt to go on; may fill
  // request.caller.
  virtual std::optional<Response> Admit(Request& request, const Route* route) = 0;
  // Sees every response before it is sent (CORS headers, the audit record).
  virtual void Finish(const Request& request, const Route* route, Response& response) = 0;
};

class Router {
 public:
  // `guard` (may be null: no access control) must outlive the router.
  explicit Router(std::vector<Route> routes, RequestGuard* guard = nullptr)
      : routes_(std::move(routes)), guard_(guard) {}

  // Routes the request: 404 for an unknown path, 405 (with Allow) for a wrong method, 400 for an unknown query
  // parameter, 415 for a body that is not application/json; every exception becomes a JSON error response.
  // `fallback` (static files) is tried for GET requests no route matches; it returns nullopt to decline.
  Response Dispatch(Request& request, const std::function<std::optional<Response>(const Request&)>& fallback) const;

  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
  RequestGuard* guard_;
};

// Matches a pattern against a path, filling `params` with the "{name}" segments.
bool MatchPattern(std::string_view pattern, std::string_view path, std::map<std::string, std::string>& params);

// How the served API is protected, so the document states what the server enforces.
struct OpenApiSecurity {
  bool tokens_required = false;  // an admin token is configured
  bool public_read = false;      // read-only endpoints also answer without a token
};

// The OpenAPI 3.0.3 document for a route table; `schemas` are the components/schemas. A bearer scheme is always
// declared; operations require it per `security` and their Route::access.
boost::json::object BuildOpenApi(const std::vector<Route>& routes, boost::json::object schemas,
                                 const OpenApiSecurity& security = {});

}  // namespace meta_db::db_api
