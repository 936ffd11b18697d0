// Fuzz target: JSON request bodies through the route table (body parsing, model validation, the query language
// and the catalogue's writes) on a real SQLite catalogue. The input is "METHOD /pattern\n" and the body; a first
// line that names no route with a body picks one by its hash. Properties: never a 5xx, every JSON answer parses.
#include "api_fixture.hpp"

#include <functional>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const meta_db::fuzz::ApiFixture api;
  static const std::vector<const meta_db::db_api::Route*> routes = [] {
    std::vector<const meta_db::db_api::Route*> out;
    for (const auto& route : api.router().routes()) {
      if (!route.request_schema.empty()) out.push_back(&route);
    }
    return out;
  }();
  const std::string_view input = meta_db::fuzz::Bytes(data, size);
  const std::size_t newline = input.find('\n');
  const std::string_view line = input.substr(0, newline);
  const meta_db::db_api::Route* route = routes[std::hash<std::string_view>{}(line) % routes.size()];
  for (const auto* candidate : routes) {
    if (line == candidate->method + " " + candidate->pattern) route = candidate;
  }
  meta_db::db_api::Request request;
  request.method = route->method;
  request.path = api.Concrete(route->pattern);
  request.headers["content-type"] = "application/json";
  if (newline != std::string_view::npos) request.body = input.substr(newline + 1);
  api.Dispatch(request);
  return 0;
}
