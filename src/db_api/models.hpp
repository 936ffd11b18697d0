// Request models per collection: field types, required fields and server-owned fields, used both to validate
// bodies (422 naming the field) and to generate the OpenAPI component schemas, so the two cannot disagree.
#pragma once

#include "model/kind.hpp"

#include <boost/json/object.hpp>

#include <span>
#include <string_view>

namespace meta_db::db_api {

enum class FieldType { kString, kInteger, kNumber, kObject, kObjectId, kObjectIdArray, kStringArray, kCaseArray,
                       kDateTime, kAny };

struct FieldSpec {
  std::string_view name;
  FieldType type;
  bool required = false;      // on create
  bool server_owned = false;  // maintained by the server: ignored on create, 422 on PATCH
  std::string_view description;
};

std::span<const FieldSpec> Fields(Kind kind);
// Studies, series and instances carry an open schema (any extracted DICOM attribute); others are closed.
bool IsOpenSchema(Kind kind);

enum class Mode { kCreate, kPatch };

// Validates a body and returns the document to hand to the catalog: server-owned fields dropped on create,
// defaults filled in. Throws Error(kUnprocessable, details {"field": name}) on the first problem.
boost::json::object ValidateBody(Kind kind, Mode mode, const boost::json::object& body);

// The fields of a case in collections.cases[] ({case_id, patient_id, accession_numbers[]}).
void ValidateCase(const boost::json::value& value, std::string_view field);

// components/schemas for every collection (<Name> for stored documents, <Name>Create for bodies) and the
// shared list/query shapes.
boost::json::object ModelSchemas();

// The OpenAPI schema names of a kind: "Study" / "StudyCreate".
std::string_view SchemaName(Kind kind);

// Builds series._search_text from its descriptive fields when the client did not send one.
std::string SearchTextOf(const boost::json::object& series);

}  // namespace meta_db::db_api
