// The one error vocabulary of meta_db: a code that maps to an HTTP status, a human message, optional details.
#pragma once

#include <boost/json/value.hpp>

#include <stdexcept>
#include <string>
#include <string_view>

namespace meta_db {

enum class Errc {
  kBadRequest,            // 400: malformed input (JSON syntax, bad id, rejected filter)
  kUnauthorized,          // 401
  kForbidden,             // 403
  kNotFound,              // 404
  kMethodNotAllowed,      // 405
  kConflict,              // 409: unique key taken, parent has children
  kPayloadTooLarge,       // 413
  kUnsupportedMediaType,  // 415
  kUnprocessable,         // 422: well-formed but wrong types / missing fields
  kTooManyRequests,       // 429: a rate limit (Retry-After says when to come back)
  kInternal,              // 500
  kUnavailable,           // 503: store locked or busy
  kTimeout,               // 504: query budget exceeded
};

// HTTP status for a code (one table, used by the server and the CLI's exit codes).
int HttpStatus(Errc code);
// Stable machine-readable name, e.g. "not_found".
std::string_view CodeName(Errc code);

class Error : public std::runtime_error {
 public:
  Error(Errc code, std::string message, boost::json::value details = nullptr)
      : std::runtime_error(std::move(message)), code_(code), details_(std::move(details)) {}
  Errc code() const noexcept { return code_; }
  const boost::json::value& details() const noexcept { return details_; }

 private:
  Errc code_;
  boost::json::value details_;
};

// {"error": {"code", "message", "details"}} as every HTTP error body is shaped.
boost::json::value ErrorBody(const Error& error);

}  // namespace meta_db
