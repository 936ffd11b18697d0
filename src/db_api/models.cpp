// Field tables of the seed's schema and the validation/OpenAPI generation driven by them.
#include "db_api/models.hpp"

#include "common/error.hpp"
#include "common/object_id.hpp"

#include <boost/json/array.hpp>

#include <array>
#include <string>

namespace meta_db::db_api {

namespace {
using T = FieldType;

constexpr FieldSpec kId{"_id", T::kObjectId, false, false, "24-hex ObjectId; generated when absent"};
constexpr FieldSpec kCreated{"created_at", T::kDateTime, false, true, "set by the server"};
constexpr FieldSpec kUpdated{"updated_at", T::kDateTime, false, true, "set by the server on every real change"};

constexpr std::array kResearcher{
    kId,
    FieldSpec{"researcher_id", T::kString, true, false, "unique business id, e.g. r12345"},
    FieldSpec{"name", T::kString, true, false, "display name"},
    FieldSpec{"email", T::kString, true, false, "valid e-mail address"},
    FieldSpec{"jobs", T::kObjectIdArray, false, true, "ids of this researcher's jobs (maintained by POST /jobs)"},
    kCreated, kUpdated};
constexpr std::array kCollection{
    kId,
    FieldSpec{"name", T::kString, true, false, "unique collection name, e.g. LIDC-IDRI"},
    FieldSpec{"description", T::kString, false, false, ""},
    FieldSpec{"cases", T::kCaseArray, false, false, "cases {case_id, patient_id, accession_numbers[]}"},
    FieldSpec{"owner_id", T::kObjectId, false, false,
              "researcher (_id) who owns it; a researcher's token sets it to that researcher"},
    kCreated, kUpdated};
constexpr std::array kStudy{
    kId,
    FieldSpec{"study_instance_uid", T::kString, true, false, "StudyInstanceUID (unique)"},
    FieldSpec{"accession_number", T::kString, false, false, ""},
    FieldSpec{"patient_id", T::kString, false, false, ""},
    FieldSpec{"study_date", T::kString, false, false, "DICOM DA, YYYYMMDD"},
    FieldSpec{"metadata", T::kObject, false, false, "other study-level attributes keyed by DICOM keyword"},
    FieldSpec{"collection_ids", T::kObjectIdArray, false, false, "collections this study belongs to"},
    FieldSpec{"series", T::kAny, false, true, "shallow summary of the study's series (maintained)"},
    kCreated, kUpdated};
constexpr std::array kSeries{
    kId,
    FieldSpec{"series_instance_uid", T::kString, true, false, "SeriesInstanceUID (unique)"},
    FieldSpec{"study_id", T::kObjectId, true, false, "parent study (must exist)"},
    FieldSpec{"accession_number", T::kString, false, false, ""},
    FieldSpec{"patient_id", T::kString, false, false, ""},
    FieldSpec{"series_number", T::kInteger, false, false, ""},
    FieldSpec{"modality", T::kString, false, false, "e.g. CT"},
    FieldSpec{"series_description", T::kString, false, false, ""},
    FieldSpec{"metadata", T::kObject, false, false, "other series-level attributes keyed by DICOM keyword"},
    FieldSpec{"collection_ids", T::kObjectIdArray, false, false, ""},
    FieldSpec{"_search_text", T::kString, false, false, "free text for q=; built from descriptive fields if absent"},
    FieldSpec{"embeddings_id", T::kAny, false, false, "reserved, null"},
    FieldSpec{"num_instances", T::kInteger, false, true, "size of instances[] (maintained)"},
    FieldSpec{"instances", T::kObjectIdArray, false, true, "instance ids ordered by instance_number (maintained)"},
    FieldSpec{"qc", T::kAny, false, true, "geometry/QC facets of its instances (maintained; docs/qc.md)"},
    kCreated, kUpdated};
constexpr std::array kInstance{
    kId,
    FieldSpec{"sop_instance_uid", T::kString, true, false, "SOPInstanceUID (unique)"},
    FieldSpec{"series_id", T::kObjectId, true, false, "parent series (must exist)"},
    FieldSpec{"sop_class_uid", T::kString, false, false, ""},
    FieldSpec{"acquisition_datetime", T::kString, false, false, "DICOM DT"},
    FieldSpec{"instance_number", T::kInteger, false, false, ""},
    FieldSpec{"metadata", T::kObject, false, false, "other instance-level attributes"},
    kCreated, kUpdated};
constexpr std::array kJob{
    kId,
    FieldSpec{"researcher_id", T::kString, true, false, "business id of the requesting researcher"},
    FieldSpec{"name", T::kString, true, false, ""},
    FieldSpec{"accession_numbers", T::kStringArray, false, false, "accession numbers to find"},
    FieldSpec{"patient_ids", T::kStringArray, false, false, "patient ids to find"},
    FieldSpec{"study_instance_uids", T::kStringArray, false, false, "StudyInstanceUIDs to find"},
    FieldSpec{"collection_id", T::kObjectId, false, false, "target collection (must exist)"},
    FieldSpec{"status", T::kString, false, false, "queued | running | done | failed (default queued)"},
    FieldSpec{"progress", T::kNumber, false, false, "0..100"},
    FieldSpec{"matched", T::kInteger, false, true, "number of stored studies matching the identifiers"},
    FieldSpec{"unmatched", T::kStringArray, false, true, "identifiers with no stored study"},
    FieldSpec{"totals", T::kObject, false, true,
              "identifiers, matched, missing, ambiguous, patients, studies, series, instances (last resolution)"},
    FieldSpec{"snapshot", T::kObject, false, true, "last resolution's snapshot {hash, series, at, ingest}"},
    FieldSpec{"changes", T::kObject, false, true,
              "since the previous snapshot: {since, newly_matched[], series_added, series_removed}"},
    FieldSpec{"error", T::kString, false, true, "why the last resolution failed (status failed)"},
    kCreated, kUpdated};
constexpr std::array kJobRecord{
    kId,
    FieldSpec{"job_id", T::kObjectId, false, true, "the job (absent on a collection's manual links)"},
    FieldSpec{"collection_id", T::kObjectId, false, true, "the collection linked"},
    FieldSpec{"part", T::kString, false, true, "report | snapshot | snapshot_uids | links | manual"},
    kCreated, kUpdated};

// Written by ingest from the LIDC XML reads (docs/annotations.md); open like the other ingest-owned collections.
constexpr std::array kAnnotation{
    kId,
    FieldSpec{"series_id", T::kAny, false, false, "the series annotated (null while it is not in the catalogue)"},
    FieldSpec{"study_id", T::kAny, false, false, "its study (null while unknown)"},
    FieldSpec{"series_instance_uid", T::kString, true, false, "SeriesInstanceUid of the read"},
    FieldSpec{"study_instance_uid", T::kString, false, false, "StudyInstanceUID of the read"},
    FieldSpec{"source_path", T::kString, false, false, "the XML file it was read from"},
    FieldSpec{"kind", T::kString, false, false, "nodule | small_nodule | non_nodule"},
    FieldSpec{"nodule_id", T::kString, false, false, "the reader's noduleID / nonNoduleID"},
    FieldSpec{"ratings", T::kObject, false, false, "the nine LIDC ratings (nodules only)"},
    FieldSpec{"rois", T::kAny, false, false, "outlines per slice {sop_instance_uid, instance_id, z_position, "
                                             "inclusion, points}"},
    FieldSpec{"diameter_mm", T::kNumber, false, false, "largest in-slice chord (pylidc's diameter)"},
    FieldSpec{"volume_mm3", T::kNumber, false, false, "shoelace areas times slice extents (pylidc's volume)"},
    FieldSpec{"cluster", T::kInteger, false, false, "index of its physical nodule within the series"},
    FieldSpec{"nodule_readers", T::kInteger, false, false, "annotations in its physical nodule"},
    kCreated, kUpdated};

[[noreturn]] void Fail(std::string_view field, const std::string& why) {
  throw Error(Errc::kUnprocessable, "field '" + std::string(field) + "' " + why,
              boost::json::object{{"field", field}});
}

bool IsValidEmail(std::string_view email) {
  const auto at = email.find('@');
  if (at == 0 || at == std::string_view::npos || email.find('@', at + 1) != std::string_view::npos) return false;
  const auto domain = email.substr(at + 1);
  const auto dot = domain.find('.');
  if (dot == 0 || dot == std::string_view::npos || domain.back() == '.') return false;
  for (char c : email) {
    if (static_cast<unsigned char>(c) <= ' ') return false;
  }
  return email.size() <= 254;
}

void CheckType(const FieldSpec& spec, const boost::json::value& value) {
  switch (spec.type) {
    case T::kString:
    case T::kDateTime:
      if (!value.is_string()) Fail(spec.name, "must be a string");
      return;
    case T::kInteger:
      if (!value.is_int64() && !value.is_uint64()) Fail(spec.name, "must be an integer");
      return;
    case T::kNumber:
      if (!value.is_number()) Fail(spec.name, "must be a number");
      return;
    case T::kObject:
      if (!value.is_object()) Fail(spec.name, "must be an object");
      return;
    case T::kObjectId:
      if (!value.is_string() || !ObjectId::IsValid(value.as_string())) Fail(spec.name, "must be a 24-hex ObjectId");
      return;
    case T::kObjectIdArray:
    case T::kStringArray:
      if (!value.is_array()) Fail(spec.name, "must be an array");
      for (const auto& item : value.as_array()) {
        if (!item.is_string()) Fail(spec.name, "must contain strings");
        if (spec.type == T::kObjectIdArray && !ObjectId::IsValid(item.as_string())) {
          Fail(spec.name, "must contain 24-hex ObjectIds");
        }
      }
      return;
    case T::kCaseArray:
      if (!value.is_array()) Fail(spec.name, "must be an array");
      for (const auto& item : value.as_array()) ValidateCase(item, spec.name);
      return;
    case T::kAny:
      return;
  }
}

// Rules beyond types: e-mail syntax, job status vocabulary, progress range.
void CheckSemantics(Kind kind, std::string_view name, const boost::json::value& value) {
  if (kind == Kind::kResearchers && name == "email" && !IsValidEmail(value.as_string())) {
    Fail(name, "must be a valid e-mail address");
  }
  if (kind == Kind::kJobs && name == "status") {
    const auto& status = value.as_string();
    if (status != "queued" && status != "running" && status != "done" && status != "failed") {
      Fail(name, "must be one of queued, running, done, failed");
    }
  }
  if (kind == Kind::kJobs && name == "progress" && (value.to_number<double>() < 0 || value.to_number<double>() > 100)) {
    Fail(name, "must be between 0 and 100");
  }
  if ((name == "researcher_id" || name == "name" || name.ends_with("_uid")) && value.is_string() &&
      value.as_string().empty()) {
    Fail(name, "must not be empty");
  }
}

const FieldSpec* FindSpec(Kind kind, std::string_view name) {
  for (const FieldSpec& spec : Fields(kind)) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

void FillDefaults(Kind kind, boost::json::object& doc) {
  if (kind == Kind::kResearchers) doc["jobs"] = boost::json::array{};
  if (kind == Kind::kCollections && !doc.contains("cases")) doc["cases"] = boost::json::array{};
  if (kind == Kind::kSeries) {
    if (!doc.contains("_search_text")) doc["_search_text"] = SearchTextOf(doc);
    if (!doc.contains("embeddings_id")) doc["embeddings_id"] = nullptr;
  }
  if (kind == Kind::kJobs) {
    if (!doc.contains("status")) doc["status"] = "queued";
    if (!doc.contains("progress")) doc["progress"] = 0;
    if (!doc.contains("accession_numbers")) doc["accession_numbers"] = boost::json::array{};
    if (!doc.contains("patient_ids")) doc["patient_ids"] = boost::json::array{};
  }
}

}  // namespace

std::span<const FieldSpec> Fields(Kind kind) {
  switch (kind) {
    case Kind::kResearchers: return kResearcher;
    case Kind::kCollections: return kCollection;
    case Kind::kStudies: return kStudy;
    case Kind::kSeries: return kSeries;
    case Kind::kInstances: return kInstance;
    case Kind::kJobs: return kJob;
    case Kind::kAnnotations: return kAnnotation;
    case Kind::kJobRecords: return kJobRecord;
  }
  return {};
}

bool IsOpenSchema(Kind kind) {
  return kind == Kind::kStudies || kind == Kind::kSeries || kind == Kind::kInstances || kind == Kind::kAnnotations;
}

void ValidateCase(const boost::json::value& value, std::string_view field) {
  if (!value.is_object()) Fail(field, "must contain case objects");
  const auto& item = value.as_object();
  for (const auto& [key, member] : item) {
    if (key == "case_id" || key == "patient_id") {
      if (!member.is_string()) Fail(std::string(field) + "." + std::string(key), "must be a string");
    } else if (key == "accession_numbers") {
      if (!member.is_array()) Fail(std::string(field) + ".accession_numbers", "must be an array");
      for (const auto& acc : member.as_array()) {
        if (!acc.is_string()) Fail(std::string(field) + ".accession_numbers", "must contain strings");
      }
    } else {
      Fail(std::string(field) + "." + std::string(key), "is not a case field");
    }
  }
  if (!item.contains("case_id")) Fail(std::string(field) + ".case_id", "is required");
}

// Field names at any depth that no store can keep or the filter language address: MongoDB cannot store a NUL
// (BSON names are C strings) and refuses empty and `$` names; a `.` would make a dotted path ambiguous.
void CheckNestedNames(std::string_view field, const boost::json::value& value) {
  if (const auto* object = value.if_object()) {
    for (const auto& [key, child] : *object) {
      if (key.find('\0') != boost::json::string_view::npos) Fail(field, "has a field name with a NUL byte");
      if (key.empty() || key.front() == '$' || key.find('.') != boost::json::string_view::npos) {
        Fail(field, "has a field name that is empty, starts with '$' or holds a '.'");
      }
      CheckNestedNames(field, child);
    }
  } else if (const auto* array = value.if_array()) {
    for (const auto& child : *array) CheckNestedNames(field, child);
  }
}

boost::json::object ValidateBody(Kind kind, Mode mode, const boost::json::object& body) {
  boost::json::object doc;
  for (const auto& [key, value] : body) {
    if (key.find('\0') != boost::json::string_view::npos) Fail(key, "is not a valid field name (a NUL byte)");
    CheckNestedNames(key, value);
    const FieldSpec* spec = FindSpec(kind, key);
    if (spec == nullptr) {
      if (!IsOpenSchema(kind)) Fail(key, "is not a field of " + std::string(CollectionName(kind)));
      // MongoDB cannot store these names, and the filter language could not address them.
      if (key.empty() || key.front() == '$' || key.find('.') != boost::json::string_view::npos) {
        Fail(key, "is not a valid field name");
      }
      doc[key] = value;
      continue;
    }
    if (spec->server_owned || (mode == Mode::kPatch && spec->name == "_id")) {
      if (mode == Mode::kPatch) Fail(key, "is maintained by the server and cannot be set");
      continue;  // documents read back from GET may be re-posted: server fields are simply not trusted
    }
    if (value.is_null()) {
      if (spec->required) Fail(key, "is required and cannot be null");
      doc[key] = nullptr;
      continue;
    }
    CheckType(*spec, value);
    CheckSemantics(kind, key, value);
    doc[key] = value;
  }
  if (mode == Mode::kCreate) {
    for (const FieldSpec& spec : Fields(kind)) {
      if (spec.required && !doc.contains(spec.name)) Fail(spec.name, "is required");
    }
    FillDefaults(kind, doc);
  }
  return doc;
}

std::string SearchTextOf(const boost::json::object& series) {
  std::string text;
  auto add = [&](const boost::json::value* value) {
    if (value != nullptr && value->is_string() && !value->as_string().empty()) {
      if (!text.empty()) text += ' ';
      text += value->as_string();
    }
  };
  add(series.if_contains("modality"));
  add(series.if_contains("series_description"));
  if (const auto* meta = series.if_contains("metadata"); meta != nullptr && meta->is_object()) {
    for (const char* key : {"BodyPartExamined", "Manufacturer", "ManufacturerModelName", "ConvolutionKernel",
                            "ProtocolName", "PatientPosition"}) {
      add(meta->as_object().if_contains(key));
    }
  }
  return text;
}

std::string_view SchemaName(Kind kind) {
  switch (kind) {
    case Kind::kResearchers: return "Researcher";
    case Kind::kCollections: return "Collection";
    case Kind::kStudies: return "Study";
    case Kind::kSeries: return "Series";
    case Kind::kInstances: return "Instance";
    case Kind::kJobs: return "Job";
    case Kind::kAnnotations: return "Annotation";
    case Kind::kJobRecords: return "JobRecord";
  }
  return "";
}

}  // namespace meta_db::db_api
