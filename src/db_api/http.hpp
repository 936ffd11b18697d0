// Transport-free HTTP request/response values, so handlers stay pure and never include Beast.
#pragma once

#include "common/error.hpp"

#include <boost/json/value.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace meta_db::db_api {

// Who sent a request, as authentication established it (auth.cpp) before any handler runs.
enum class Role {
  kLocal,       // no admin token configured: the single local user, who may do everything
  kAdmin,       // the admin token
  kResearcher,  // a researcher's API token
  kAnonymous,   // no token, admitted by --public-read to read-only endpoints
};
// "local", "admin", "researcher", "anonymous": as /auth/whoami and the audit log spell the role.
std::string_view RoleName(Role role);

struct Caller {
  Role role = Role::kLocal;
  std::string researcher;     // the researcher's _id (24-hex), for kResearcher
  std::string researcher_id;  // the researcher's business id ("r12345"), for kResearcher
  std::string token_id;       // the token used, for kResearcher
};

struct Request {
  std::string method;  // upper case, "GET"
  std::string path;    // percent-decoded path without the query string
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order of appearance
  std::map<std::string, std::string> headers;              // names lower-cased
  std::string body;
  std::map<std::string, std::string> path_params;  // filled by the router from "{name}" segments
  std::string peer;                                // the client's address (rate limit and audit), "" if unknown
  Caller caller;                                   // filled by authentication before the handler runs

  // The first value of query parameter `name`, if present.
  std::optional<std::string> Param(std::string_view name) const;
  std::string Header(std::string_view lower_name) const;
  const std::string& PathParam(const std::string& name) const { return path_params.at(name); }
};

// Where a streamed body goes (an export): the connection, or a file for `meta_db export`.
// Write blocks while the receiver is behind (backpressure) and returns false once it is gone: stop producing then.
class BodySink {
 public:
  virtual ~BodySink() = default;
  virtual bool Write(std::string_view bytes) = 0;
};

// Produces a streamed body through the sink and returns how many rows it wrote (for the audit log). It runs on a
// worker thread after the header went out, so errors it throws can no longer change the status: the transport
// ends the body unterminated (the client sees a truncated transfer, never a complete-looking one).
using BodyProducer = std::function<std::int64_t(BodySink& sink)>;

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers (Allow, Cache-Control, ...)
  std::int64_t documents = -1;  // how many documents the request wrote or exported, for the audit log (-1: unknown)
  // Set: the body is streamed with chunked transfer encoding (`body` is ignored). The request guard may wrap it
  // (the audit record of an export is written once the row count is known).
  BodyProducer stream;
};

Response JsonResponse(int status, const boost::json::value& value);
Response ErrorResponse(const Error& error);
// A create's answer (201, or 202 for a job queued) also carries {"inserted_id": <_id>}, as the earlier FastAPI app
// answered; the router applies it to every create route (Route::creates), whatever handler made the answer.
void AddInsertedId(Response& response);

// The headers every answer carries (docs/security.md "Limits and safe defaults"): nosniff, no referrer, no framing,
// a Content-Security-Policy the dashboard and /docs work under, and Cache-Control: no-store unless the response set
// its own (static assets do). Added by the transport to every response, rejections included.
void ApplySafeDefaults(Response& response);

// Splits an origin-form target ("/a%20b?x=1&y") into a decoded path and parameters; kBadRequest if malformed.
void ParseTarget(std::string_view target, Request& request);

}  // namespace meta_db::db_api
