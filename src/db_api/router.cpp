// Route matching, strict parameter checks and the exception-to-response boundary.
#include "db_api/router.hpp"

#include "common/utf8.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <exception>

namespace meta_db::db_api {

namespace {

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (end > start) out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

int LiteralSegments(std::string_view pattern) {
  int count = 0;
  for (std::string_view segment : Segments(pattern)) count += segment.front() != '{';
  return count;
}

bool IsParamAllowed(const Route& route, const std::string& name) {
  if (route.metadata_params && name.starts_with("metadata.") && name.size() > 9) return true;
  return std::any_of(route.query.begin(), route.query.end(), [&](const ParamDoc& doc) { return doc.name == name; });
}

void CheckRequest(const Route& route, const Request& request) {
  for (const auto& [name, value] : request.query) {
    if (!IsParamAllowed(route, name)) {
      throw Error(Errc::kBadRequest, "unknown query parameter '" + name + "'",
                  boost::json::object{{"parameter", name}});
    }
  }
  if (!route.request_schema.empty()) {
    // Media type parameters (charset) are allowed; the type itself must be JSON.
    std::string type = request.Header("content-type");
    type = type.substr(0, type.find(';'));
    std::transform(type.begin(), type.end(), type.begin(), [](unsigned char c) { return std::tolower(c); });
    while (!type.empty() && type.back() == ' ') type.pop_back();
    if (type != "application/json" && !(route.csv_body && type == "text/csv")) {
      const std::string given = request.Header("content-type");  // echoed in JSON: only when UTF-8
      throw Error(Errc::kUnsupportedMediaType, "request body must be application/json",
                  boost::json::object{{"content_type", IsValidUtf8(given) ? given : "(not UTF-8)"}});
    }
  }
}

Response Guarded(const std::function<Response()>& fn) {
  try {
    return fn();
  } catch (const Error& error) {
    return ErrorResponse(error);
  } catch (const std::exception& ex) {
    // Internals are logged, not leaked to the client.
    spdlog::error("unhandled exception in handler: {}", ex.what());
    return ErrorResponse(Error(Errc::kInternal, "internal error"));
  }
}

}  // namespace

bool MatchPattern(std::string_view pattern, std::string_view path, std::map<std::string, std::string>& params) {
  const auto want = Segments(pattern);
  const auto have = Segments(path);
  if (want.size() != have.size()) return false;
  if (!path.empty() && path.size() > 1 && path.back() == '/') return false;  // "/studies/" is not "/studies"
  std::map<std::string, std::string> found;
  for (std::size_t i = 0; i < want.size(); ++i) {
    if (want[i].front() == '{') {
      found[std::string(want[i].substr(1, want[i].size() - 2))] = std::string(have[i]);
    } else if (want[i] != have[i]) {
      return false;
    }
  }
  params = std::move(found);
  return true;
}

Response Router::Dispatch(Request& request,
                          const std::function<std::optional<Response>(const Request&)>& fallback) const {
  // The most specific pattern wins ("/studies/uid/{uid}" over "/studies/{id}/series").
  int best = -1;
  std::vector<const Route*> candidates;
  std::map<std::string, std::string> best_params;
  for (const Route& route : routes_) {
    std::map<std::string, std::string> params;
    if (!MatchPattern(route.pattern, request.path, params)) continue;
    const int score = LiteralSegments(route.pattern);
    if (score > best) {
      best = score;
      candidates.clear();
      best_params = params;
    }
    if (score == best) candidates.push_back(&route);
  }
  const Route* matched = nullptr;
  for (const Route* route : candidates) {
    if (route->method == request.method) matched = route;
  }
  if (matched != nullptr) request.path_params = best_params;
  Response response = Guarded([&]() -> Response {
    if (guard_ != nullptr) {
      if (auto refused = guard_->Admit(request, matched)) return std::move(*refused);
    }
    if (matched != nullptr) {
      CheckRequest(*matched, request);
      Response answer = matched->handler(request);
      if (matched->creates) AddInsertedId(answer);
      return answer;
    }
    if (!candidates.empty()) {
      std::string allow;
      for (const Route* route : candidates) allow += (allow.empty() ? "" : ", ") + route->method;
      Response refused = ErrorResponse(Error(Errc::kMethodNotAllowed,
                                             "method " + request.method + " not allowed on " + request.path,
                                             boost::json::object{{"allow", allow}}));
      refused.headers.emplace_back("Allow", allow);
      return refused;
    }
    if (request.method == "GET" && fallback) {
      if (auto found = fallback(request)) return *found;
    }
    throw Error(Errc::kNotFound, "no route for " + request.method + " " + request.path,
                boost::json::object{{"path", request.path}});
  });
  if (guard_ != nullptr) {
    try {
      guard_->Finish(request, matched, response);
    } catch (const std::exception& ex) {
      // The request's effect has happened; its answer stays true. The failure is logged loudly.
      spdlog::error("request accounting failed for {} {}: {}", request.method, request.path, ex.what());
    }
  }
  return response;
}

}  // namespace meta_db::db_api
