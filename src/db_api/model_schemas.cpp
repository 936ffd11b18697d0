// OpenAPI component schemas generated from the same field tables that validate request bodies.
#include "db_api/models.hpp"

#include <boost/json/array.hpp>

#include <string>

namespace meta_db::db_api {

namespace {

boost::json::object TypeSchema(FieldType type) {
  using T = FieldType;
  const boost::json::object id{{"type", "string"}, {"pattern", "^[0-9a-fA-F]{24}$"}};
  switch (type) {
    case T::kString: return {{"type", "string"}};
    case T::kDateTime: return {{"type", "string"}, {"format", "date-time"}};
    case T::kInteger: return {{"type", "integer"}};
    case T::kNumber: return {{"type", "number"}};
    case T::kObject: return {{"type", "object"}, {"additionalProperties", true}};
    case T::kObjectId: return id;
    case T::kObjectIdArray: return {{"type", "array"}, {"items", id}};
    case T::kStringArray: return {{"type", "array"}, {"items", {{"type", "string"}}}};
    case T::kCaseArray: return {{"type", "array"}, {"items", {{"$ref", "#/components/schemas/Case"}}}};
    case T::kAny: return {{"nullable", true}};
  }
  return {};
}

boost::json::object KindSchema(Kind kind, bool for_create) {
  boost::json::object properties;
  boost::json::array required;
  for (const FieldSpec& spec : Fields(kind)) {
    if (for_create && spec.server_owned) continue;
    boost::json::object schema = TypeSchema(spec.type);
    if (!spec.description.empty()) schema["description"] = spec.description;
    if (!for_create && spec.server_owned) schema["readOnly"] = true;
    properties[spec.name] = std::move(schema);
    if (for_create && spec.required) required.emplace_back(spec.name);
    if (!for_create && (spec.required || spec.name == "_id")) required.emplace_back(spec.name);
  }
  if (!for_create) {
    properties["inserted_id"] = {{"type", "string"}, {"readOnly", true},
                                 {"description", "in create answers only: the new _id (FastAPI clients read it)"}};
  }
  boost::json::object out{{"type", "object"}, {"properties", std::move(properties)}};
  if (!required.empty()) out["required"] = std::move(required);
  out["additionalProperties"] = IsOpenSchema(kind);
  return out;
}

boost::json::object ListSchema() {
  return {{"type", "object"},
          {"required", boost::json::array{"results", "total", "limit", "skip"}},
          {"properties",
           {{"results", {{"type", "array"}, {"items", {{"type", "object"}, {"additionalProperties", true}}}}},
            {"total", {{"type", "integer"}, {"description", "matches before skip/limit"}}},
            {"limit", {{"type", "integer"}}},
            {"skip", {{"type", "integer"}}}}}};
}

boost::json::object QueryRequestSchema() {
  boost::json::object any_object{{"type", "object"}, {"additionalProperties", true}};
  return {{"type", "object"},
          {"required", boost::json::array{"collection"}},
          {"properties",
           {{"collection",
             {{"type", "string"},
              {"enum", boost::json::array{"studies", "series", "instances", "collections", "researchers", "jobs"}}}},
            {"query", any_object},
            {"filter", any_object},
            {"sort", {{"type", "object"}, {"additionalProperties", {{"type", "integer"}, {"enum", {1, -1}}}}}},
            {"skip", {{"type", "integer"}, {"minimum", 0}}},
            {"limit", {{"type", "integer"}, {"minimum", 0}, {"maximum", 1000}}},
            {"projection", any_object}}}};
}

boost::json::object CohortRequestSchema() {
  boost::json::object filter{{"type", "object"}, {"additionalProperties", true},
                             {"description", "a filter of the /query language on this level"}};
  return {{"type", "object"},
          {"additionalProperties", false},
          {"properties",
           {{"studies", filter},
            {"series", filter},
            {"instances", filter},
            {"return", {{"type", "string"}, {"enum", boost::json::array{"studies", "series", "instances"}},
                        {"default", "series"}}},
            {"sort", {{"type", "object"}, {"additionalProperties", {{"type", "integer"}, {"enum", {1, -1}}}}}},
            {"skip", {{"type", "integer"}, {"minimum", 0}}},
            {"limit", {{"type", "integer"}, {"minimum", 0}, {"maximum", 1000}}},
            {"projection", {{"type", "object"}, {"additionalProperties", true}}}}}};
}

boost::json::object CohortListSchema() {
  boost::json::object list = ListSchema();
  boost::json::object count{{"type", "integer"}};
  list["properties"].as_object()["counts"] = {
      {"type", "object"},
      {"required", boost::json::array{"patients", "studies", "series", "instances"}},
      {"properties", {{"patients", count}, {"studies", count}, {"series", count}, {"instances", count}}}};
  list["required"].as_array().push_back("counts");
  return list;
}

boost::json::object NlTranslateSchemas(boost::json::object& schemas) {
  schemas["NlRequest"] = {{"type", "object"},
                          {"required", boost::json::array{"question"}},
                          {"additionalProperties", false},
                          {"properties", {{"question", {{"type", "string"}, {"maxLength", 1000}}}}}};
  schemas["NlTranslation"] = {
      {"type", "object"},
      {"required", boost::json::array{"endpoint", "request", "fields", "not_understood", "count", "count_of"}},
      {"properties",
       {{"endpoint", {{"type", "string"}, {"enum", boost::json::array{"/query", "/cohort"}}}},
        {"request", {{"type", "object"}, {"additionalProperties", true}}},
        {"fields", {{"type", "array"}, {"items", {{"type", "string"}}}}},
        {"not_understood", {{"type", "array"}, {"items", {{"type", "string"}}}}},
        {"count", {{"type", "integer"}}},
        {"count_of",
         {{"type", "string"},
          {"description", "what count counts: patients when the question asks for patients, else what the request returns"},
          {"enum", boost::json::array{"patients", "studies", "series", "instances", "annotations"}}}}}}};
  return schemas;
}

}  // namespace

boost::json::object ModelSchemas() {
  boost::json::object schemas;
  for (Kind kind : kAllKinds) {
    const std::string name(SchemaName(kind));
    schemas[name] = KindSchema(kind, false);
    schemas[name + "Create"] = KindSchema(kind, true);
    boost::json::object patch = KindSchema(kind, true);
    patch.erase("required");
    patch["description"] = "fields to change; null removes an optional field";
    schemas[name + "Patch"] = std::move(patch);
  }
  schemas["Case"] = {{"type", "object"},
                     {"required", boost::json::array{"case_id"}},
                     {"additionalProperties", false},
                     {"properties",
                      {{"case_id", {{"type", "string"}}},
                       {"patient_id", {{"type", "string"}}},
                       {"accession_numbers", {{"type", "array"}, {"items", {{"type", "string"}}}}}}}};
  schemas["CasesAppend"] = {
      {"type", "object"},
      {"description", "either {\"cases\": [Case, ...]} or a single Case object"},
      {"properties", {{"cases", {{"type", "array"}, {"items", {{"$ref", "#/components/schemas/Case"}}}}}}},
      {"additionalProperties", true}};
  schemas["List"] = ListSchema();
  schemas["QueryRequest"] = QueryRequestSchema();
  schemas["CohortRequest"] = CohortRequestSchema();
  schemas["CohortList"] = CohortListSchema();
  NlTranslateSchemas(schemas);
  schemas["Health"] = {{"type", "object"},
                       {"properties",
                        {{"status", {{"type", "string"}, {"enum", {"ok", "unavailable"}}}},
                         {"db", {{"type", "string"}}},
                         {"reason", {{"type", "string"}, {"description", "why the database cannot be reached (503)"}}},
                         {"version", {{"type", "string"}}}}}};
  const boost::json::object int_schema{{"type", "integer"}};
  const boost::json::object str_schema{{"type", "string"}};
  const boost::json::object strings_schema{{"type", "array"}, {"items", str_schema}};
  // A top value keeps its JSON type (a number stays a number).
  const boost::json::object value_count{{"type", "object"},
                                        {"required", boost::json::array{"value", "count"}},
                                        {"properties", {{"value", boost::json::object{}}, {"count", int_schema}}}};
  schemas["Fields"] = {
      {"type", "object"},
      {"required", boost::json::array{"collection", "total", "sampled", "fields"}},
      {"properties",
       {{"collection", str_schema},
        {"total", int_schema},
        {"sampled", {{"type", "integer"}, {"description", "documents the statistics were computed from"}}},
        {"fields",
         {{"type", "array"},
          {"items",
           {{"type", "object"},
            {"required", boost::json::array{"path", "promoted", "count", "types", "values"}},
            {"properties",
             {{"path", {{"type", "string"}, {"description", "dotted path: promoted field or metadata.<Keyword>"}}},
              {"promoted", {{"type", "boolean"}}},
              {"count", int_schema},
              {"types", strings_schema},
              {"values", {{"type", "array"}, {"items", value_count}, {"description", "top 10 values"}}}}}}}}}}}};
  boost::json::object bucket = value_count;
  bucket["properties"].as_object()["value"] = str_schema;
  schemas["Stats"] = {
      {"type", "object"},
      {"required", boost::json::array{"counts", "distributions"}},
      {"properties",
       {{"counts", {{"type", "object"}, {"additionalProperties", int_schema}}},
        {"distributions",
         {{"type", "object"},
          {"additionalProperties", {{"type", "array"}, {"items", bucket}}},
          {"description", "name -> buckets, most frequent first"}}}}}};
  schemas["Dictionary"] = {
      {"type", "object"},
      {"description", "keyword -> its data-dictionary entry"},
      {"additionalProperties",
       {{"type", "object"},
        {"required", boost::json::array{"tag", "vr", "name"}},
        {"properties",
         {{"tag", {{"type", "string"}, {"example", "(0018,0050)"}}}, {"vr", str_schema}, {"name", str_schema}}}}}};
  schemas["OpenApi"] = {{"type", "object"}, {"additionalProperties", true}};
  const boost::json::object string_list{{"type", "array"}, {"items", {{"type", "string"}}}};
  schemas["AvailableFields"] = {{"type", "object"}, {"required", {"fields"}}, {"properties", {{"fields", string_list}}}};
  schemas["AvailableMetadataFields"] = {
      {"type", "object"}, {"required", {"metadata_fields"}}, {"properties", {{"metadata_fields", string_list}}}};
  const boost::json::object hex24{{"type", "string"}, {"pattern", "^[0-9a-f]{24}$"}};
  const boost::json::object token_properties{
      {"token_id", hex24},
      {"researcher", hex24},
      {"label", {{"type", "string"}}},
      {"created_at", {{"type", "string"}, {"format", "date-time"}}},
      {"revoked_at", {{"type", "string"}, {"format", "date-time"}, {"nullable", true}}}};
  const boost::json::array token_required{"token_id", "researcher", "label", "created_at", "revoked_at"};
  schemas["Token"] = {{"type", "object"}, {"required", token_required}, {"properties", token_properties}};
  boost::json::object created_properties = token_properties;
  created_properties["token"] = {{"type", "string"},
                                 {"description", "mdb_<token_id>_<secret>: shown in this answer only"}};
  boost::json::array created_required = token_required;
  created_required.emplace_back("token");
  schemas["TokenCreated"] = {{"type", "object"}, {"required", created_required}, {"properties", created_properties}};
  schemas["TokenCreate"] = {{"type", "object"},
                            {"additionalProperties", false},
                            {"properties", {{"label", {{"type", "string"}, {"maxLength", 200}}}}}};
  schemas["TokenList"] = {
      {"type", "object"},
      {"required", boost::json::array{"results", "total", "limit", "skip"}},
      {"properties",
       {{"results", {{"type", "array"}, {"items", {{"$ref", "#/components/schemas/Token"}}}}},
        {"total", {{"type", "integer"}}},
        {"limit", {{"type", "integer"}}},
        {"skip", {{"type", "integer"}}}}}};
  const boost::json::object nullable_string{{"type", "string"}, {"nullable", true}};
  schemas["WhoAmI"] = {{"type", "object"},
                       {"required", boost::json::array{"role", "researcher", "researcher_id", "token_id"}},
                       {"properties",
                        {{"role", {{"type", "string"}, {"enum", {"local", "admin", "researcher", "anonymous"}}}},
                         {"researcher", nullable_string},
                         {"researcher_id", nullable_string},
                         {"token_id", nullable_string}}}};
  const boost::json::object string{{"type", "string"}};
  schemas["AuditRecord"] = {
      {"type", "object"},
      {"required", boost::json::array{"_id", "at", "actor", "action", "kind", "method", "path", "status", "documents",
                                      "document_ids"}},
      {"properties",
       {{"_id", hex24},
        {"at", {{"type", "string"}, {"format", "date-time"}}},
        {"actor", {{"type", "string"}, {"enum", {"admin", "researcher", "local", "anonymous", "os"}}}},
        {"researcher_id", string},
        {"token_id", string},
        {"action", {{"type", "string"}, {"enum", {"write", "export", "denied", "ingest", "check", "migrate"}}}},
        {"kind", string},
        {"method", string},
        {"path", string},
        {"status", {{"type", "integer"}}},
        {"documents", {{"type", "integer"}}},
        {"document_ids", {{"type", "array"}, {"items", string}}},
        {"client", string},
        {"detail", string}}}};
  schemas["AuditList"] = {
      {"type", "object"},
      {"required", boost::json::array{"results", "total", "limit", "skip"}},
      {"properties",
       {{"results", {{"type", "array"}, {"items", {{"$ref", "#/components/schemas/AuditRecord"}}}}},
        {"total", {{"type", "integer"}}},
        {"limit", {{"type", "integer"}}},
        {"skip", {{"type", "integer"}}}}}};
  const boost::json::object integer{{"type", "integer"}};
  const boost::json::object breakdown{
      {"type", "array"},
      {"items", {{"type", "object"},
                 {"properties", {{"value", string}, {"series", integer}, {"instances", integer}}}}}};
  schemas["CollectionSummary"] = {
      {"type", "object"},
      {"required", boost::json::array{"counts", "breakdowns"}},
      {"properties",
       {{"counts",
         {{"type", "object"},
          {"properties",
           {{"cases", integer}, {"patients", integer}, {"studies", integer}, {"series", integer},
            {"instances", integer}}}}},
        {"breakdowns",
         {{"type", "object"},
          {"properties",
           {{"modality", breakdown}, {"manufacturer", breakdown}, {"kernel", breakdown},
            {"slice_thickness", breakdown}}}}}}}};
  schemas["JobReport"] = {
      {"type", "object"},
      {"required", boost::json::array{"results", "total", "totals"}},
      {"properties",
       {{"results",
         {{"type", "array"},
          {"items",
           {{"type", "object"},
            {"properties",
             {{"identifier", string},
              {"type", {{"type", "string"}, {"enum", {"accession_number", "patient_id", "study_instance_uid"}}}},
              {"status", {{"type", "string"}, {"enum", {"matched", "missing", "ambiguous"}}}},
              {"reason", string},
              {"patient_id", string},
              {"studies", integer},
              {"series", integer},
              {"instances", integer}}}}}}},
        {"total", integer},
        {"totals", {{"type", "object"}, {"nullable", true}, {"additionalProperties", true}}}}}};
  schemas["JobSnapshots"] = {
      {"type", "object"},
      {"required", boost::json::array{"results", "total"}},
      {"properties",
       {{"results",
         {{"type", "array"},
          {"items",
           {{"type", "object"},
            {"properties",
             {{"hash", string},
              {"series", integer},
              {"at", {{"type", "string"}, {"format", "date-time"}}},
              {"ingest", {{"type", "string"}, {"nullable", true}}},
              {"added", integer},
              {"removed", integer}}}}}}},
        {"total", integer}}}};
  return schemas;
}

}  // namespace meta_db::db_api
