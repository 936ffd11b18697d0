// Tables from error codes to HTTP statuses and names.
#include "common/error.hpp"

#include <boost/json/object.hpp>

namespace meta_db {

namespace {
struct CodeInfo {
  int status;
  std::string_view name;
};

constexpr CodeInfo Info(Errc code) {
  switch (code) {
    case Errc::kBadRequest: return {400, "bad_request"};
    case Errc::kUnauthorized: return {401, "unauthorized"};
    case Errc::kForbidden: return {403, "forbidden"};
    case Errc::kNotFound: return {404, "not_found"};
    case Errc::kMethodNotAllowed: return {405, "method_not_allowed"};
    case Errc::kConflict: return {409, "conflict"};
    case Errc::kPayloadTooLarge: return {413, "payload_too_large"};
    case Errc::kUnsupportedMediaType: return {415, "unsupported_media_type"};
    case Errc::kUnprocessable: return {422, "unprocessable_entity"};
    case Errc::kTooManyRequests: return {429, "too_many_requests"};
    case Errc::kInternal: return {500, "internal_error"};
    case Errc::kUnavailable: return {503, "unavailable"};
    case Errc::kTimeout: return {504, "timeout"};
  }
  return {500, "internal_error"};
}
}  // namespace

int HttpStatus(Errc code) { return Info(code).status; }
std::string_view CodeName(Errc code) { return Info(code).name; }

boost::json::value ErrorBody(const Error& error) {
  boost::json::object inner;
  inner["code"] = CodeName(error.code());
  inner["message"] = error.what();
  inner["details"] = error.details();
  boost::json::object outer;
  outer["error"] = std::move(inner);
  // FastAPI's shape beside ours, so clients written for the earlier FastAPI app (which read `detail`) keep working.
  outer["detail"] = error.what();
  return outer;
}

}  // namespace meta_db
