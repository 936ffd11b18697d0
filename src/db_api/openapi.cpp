// OpenAPI 3.0.3 generation from the route table (the same entries the router dispatches on).
#include "db_api/router.hpp"

#include <boost/json/array.hpp>

#include <algorithm>
#include <cctype>

namespace meta_db::db_api {

namespace {

boost::json::object Ref(const std::string& schema) {
  return {{"$ref", "#/components/schemas/" + schema}};
}

boost::json::object JsonContent(boost::json::object schema) {
  return {{"application/json", boost::json::object{{"schema", std::move(schema)}}}};
}

std::string OperationId(const Route& route) {
  std::string id;
  for (char c : route.method) id += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  bool upper = true;
  for (char c : route.pattern) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      id += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
      upper = false;
    } else {
      upper = true;
    }
  }
  return id;
}

boost::json::array Parameters(const Route& route) {
  boost::json::array params;
  std::size_t pos = 0;
  while ((pos = route.pattern.find('{', pos)) != std::string::npos) {
    const std::size_t end = route.pattern.find('}', pos);
    const std::string name = route.pattern.substr(pos + 1, end - pos - 1);
    boost::json::object schema{{"type", "string"}};
    if (name == "id") schema["pattern"] = "^[0-9a-fA-F]{24}$";
    params.push_back(boost::json::object{{"name", name}, {"in", "path"}, {"required", true}, {"schema", schema}});
    pos = end;
  }
  for (const ParamDoc& doc : route.query) {
    params.push_back(boost::json::object{{"name", doc.name},
                                         {"in", "query"},
                                         {"required", doc.required},
                                         {"description", doc.description},
                                         {"schema", boost::json::object{{"type", doc.type}}}});
  }
  if (route.metadata_params) {
    // OpenAPI 3.0 cannot name a parameter family; a free-form object parameter documents "metadata.<Keyword>".
    params.push_back(boost::json::object{
        {"name", "metadata"},
        {"in", "query"},
        {"style", "deepObject"},
        {"description", "Any metadata.<Keyword>=value (e.g. metadata.SliceThickness=2.5); numeric-looking values "
                        "match numbers or strings; * and ? are wildcards."},
        {"schema", boost::json::object{{"type", "object"}, {"additionalProperties", true}}}});
  }
  return params;
}

std::string_view AccessNote(Access access) {
  switch (access) {
    case Access::kPublic: return "";
    case Access::kRead: return " [any token]";
    case Access::kWrite: return " [researcher (own documents) or admin token]";
    case Access::kAdmin: return " [admin token]";
  }
  return "";
}

boost::json::object Operation(const Route& route, const OpenApiSecurity& security) {
  boost::json::object op{{"summary", route.summary + std::string(AccessNote(route.access))},
                         {"operationId", OperationId(route)}};
  if (route.access == Access::kPublic || !security.tokens_required) {
    op["security"] = boost::json::array{};
  } else if (security.public_read && route.access == Access::kRead) {
    op["security"] = boost::json::array{boost::json::object{{"bearerAuth", boost::json::array{}}}, boost::json::object{}};
  }
  op["tags"] = boost::json::array{boost::json::value(route.tag)};
  op["parameters"] = Parameters(route);
  if (!route.request_schema.empty()) {
    op["requestBody"] = boost::json::object{{"required", true}, {"content", JsonContent(Ref(route.request_schema))}};
  }
  boost::json::object ok{{"description", "success"}};
  // An empty success_content_type is a body-less answer (204): it documents no content.
  if (!route.response_schema.empty()) {
    ok["content"] = JsonContent(Ref(route.response_schema));
  } else if (!route.success_content_type.empty() && route.success_content_type != "application/json") {
    boost::json::object content;  // "a|b": the answer is one of several media types (exports)
    std::string_view types = route.success_content_type;
    while (!types.empty()) {
      const auto bar = types.find('|');
      content[types.substr(0, bar)] = boost::json::object{};
      types = bar == std::string_view::npos ? std::string_view() : types.substr(bar + 1);
    }
    ok["content"] = std::move(content);
  }
  boost::json::object responses;
  responses[std::to_string(route.success_status)] = std::move(ok);
  responses["default"] = boost::json::object{{"description", "error (400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 5xx)"},
                                             {"content", JsonContent(Ref("Error"))}};
  op["responses"] = std::move(responses);
  return op;
}

}  // namespace

boost::json::object BuildOpenApi(const std::vector<Route>& routes, boost::json::object schemas,
                                 const OpenApiSecurity& security) {
  boost::json::object paths;
  for (const Route& route : routes) {
    std::string method = route.method;
    std::transform(method.begin(), method.end(), method.begin(), [](unsigned char c) { return std::tolower(c); });
    boost::json::value& entry = paths[route.pattern];
    if (!entry.is_object()) entry.emplace_object();
    entry.as_object()[method] = Operation(route, security);
  }
  schemas["Error"] = boost::json::object{
      {"type", "object"},
      {"required", boost::json::array{"error", "detail"}},
      {"properties",
       boost::json::object{
           {"detail", {{"type", "string"}, {"description", "the message again, as FastAPI clients read it"}}},
           {"error", boost::json::object{{"type", "object"},
                                         {"required", boost::json::array{"code", "message"}},
                                         {"properties", boost::json::object{
                                                            {"code", {{"type", "string"}}},
                                                            {"message", {{"type", "string"}}},
                                                            {"details", boost::json::object{}},
                                                        }}}}}}};
  boost::json::object doc;
  doc["openapi"] = "3.0.3";
  doc["info"] = boost::json::object{
      {"title", "meta_db"},
      {"version", "0.1.0"},
      {"description", "Queryable research catalogue of a DICOM archive: researchers, collections, jobs, studies, "
                      "series, instances; filters in a MongoDB-compatible JSON language."}};
  doc["paths"] = std::move(paths);
  // Operations without their own "security" need the bearer token (only when an admin token is configured).
  if (security.tokens_required) doc["security"] = boost::json::array{boost::json::object{{"bearerAuth", boost::json::array{}}}};
  doc["components"] = boost::json::object{
      {"schemas", std::move(schemas)},
      {"securitySchemes",
       boost::json::object{{"bearerAuth",
                            boost::json::object{{"type", "http"},
                                                {"scheme", "bearer"},
                                                {"description", "The admin token (META_DB_ADMIN_TOKEN) or a researcher's "
                                                                "API token (POST /researchers/{id}/tokens). Without an "
                                                                "admin token configured the server needs none."}}}}}};
  return doc;
}

}  // namespace meta_db::db_api
