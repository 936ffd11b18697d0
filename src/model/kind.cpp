// Names and index tables of the catalogue's collections.
#include "model/kind.hpp"

#include <array>

namespace meta_db {

namespace {
using C = FieldType;

constexpr std::array<IndexedField, 3> kResearcherFields{{
    {"researcher_id", C::kText, true},
    {"email", C::kText},
    {"name", C::kText},
}};
constexpr std::array<IndexedField, 1> kCollectionFields{{
    {"name", C::kText, true},
}};
constexpr std::array<IndexedField, 7> kStudyFields{{
    {"study_instance_uid", C::kText, true},
    {"accession_number", C::kText},
    {"patient_id", C::kText},
    {"study_date", C::kText},
    {"metadata.StudyDescription", C::kText},
    {"metadata.PatientSex", C::kText},
    {"metadata.InstitutionName", C::kText},
}};
constexpr std::array<IndexedField, 20> kSeriesFields{{
    {"series_instance_uid", C::kText, true},
    {"study_id", C::kText},
    {"accession_number", C::kText},
    {"patient_id", C::kText},
    {"series_number", C::kInteger},
    {"modality", C::kText},
    {"series_description", C::kText},
    {"num_instances", C::kInteger},
    {"metadata.Manufacturer", C::kText},
    {"metadata.ManufacturerModelName", C::kText},
    {"metadata.BodyPartExamined", C::kText},
    {"metadata.ConvolutionKernel", C::kText},
    {"metadata.SliceThickness", C::kReal},
    {"metadata.SeriesDate", C::kText},
    // "with / without contrast" (the plain-language grammar, cohort filters): otherwise a JSON parse of every series.
    {"metadata.ContrastBolusAgent", C::kText},
    // The annotation summary (docs/annotations.md), behind GET /series?min_nodules=... and cohort filters.
    {"annotations.nodules", C::kInteger},
    {"annotations.max_diameter_mm", C::kReal},
    {"annotations.max_malignancy", C::kInteger},
    {"annotations.max_nodule_readers", C::kInteger},
    // The QC kernel class (docs/qc.md), behind GET /series?kernel_class=... (qc.flags, an array, is not: SQLite's
    // generated columns hold an array as one JSON text, which an index on element membership cannot use).
    {"qc.kernel_class", C::kText},
}};
constexpr std::array<IndexedField, 5> kInstanceFields{{
    {"sop_instance_uid", C::kText, true},
    {"series_id", C::kText},
    {"sop_class_uid", C::kText, false, false},
    {"instance_number", C::kInteger, false, false},  // indexed with series_id
    {"acquisition_datetime", C::kText, false, false},
}};
constexpr std::array<IndexedField, 3> kJobFields{{
    {"researcher_id", C::kText},
    {"collection_id", C::kText},
    {"status", C::kText},
}};
constexpr std::array<IndexedField, 7> kAnnotationFields{{
    {"series_id", C::kText},
    {"series_instance_uid", C::kText},
    {"source_path", C::kText},
    {"kind", C::kText},
    {"ratings.malignancy", C::kInteger},
    {"diameter_mm", C::kReal},
    {"nodule_readers", C::kInteger},
}};
constexpr std::array<IndexedField, 3> kJobRecordFields{{
    {"job_id", C::kText},
    {"collection_id", C::kText},
    {"part", C::kText},
}};
}  // namespace

std::string_view CollectionName(Kind kind) {
  switch (kind) {
    case Kind::kResearchers: return "researchers";
    case Kind::kCollections: return "collections";
    case Kind::kStudies: return "studies";
    case Kind::kSeries: return "series";
    case Kind::kInstances: return "instances";
    case Kind::kJobs: return "jobs";
    case Kind::kAnnotations: return "annotations";
    case Kind::kJobRecords: return "job_records";
  }
  return "";
}

std::optional<Kind> ParseKind(std::string_view name) {
  for (Kind kind : kAllKinds) {
    if (CollectionName(kind) == name) return kind;
  }
  return std::nullopt;
}

std::span<const IndexedField> IndexedFields(Kind kind) {
  switch (kind) {
    case Kind::kResearchers: return kResearcherFields;
    case Kind::kCollections: return kCollectionFields;
    case Kind::kStudies: return kStudyFields;
    case Kind::kSeries: return kSeriesFields;
    case Kind::kInstances: return kInstanceFields;
    case Kind::kJobs: return kJobFields;
    case Kind::kAnnotations: return kAnnotationFields;
    case Kind::kJobRecords: return kJobRecordFields;
  }
  return {};
}

const IndexedField* FindIndexedField(Kind kind, std::string_view path) {
  for (const IndexedField& field : IndexedFields(kind)) {
    if (field.path == path) return &field;
  }
  return nullptr;
}

std::optional<std::string_view> UniqueKey(Kind kind) {
  for (const IndexedField& field : IndexedFields(kind)) {
    if (field.unique) return field.path;
  }
  return std::nullopt;
}

std::optional<std::string_view> ParentField(Kind kind) {
  if (kind == Kind::kSeries) return "study_id";
  if (kind == Kind::kInstances) return "series_id";
  return std::nullopt;
}

std::optional<std::string_view> ChildOrderField(Kind kind) {
  if (kind == Kind::kSeries) return "series_number";
  if (kind == Kind::kInstances) return "instance_number";
  return std::nullopt;
}

}  // namespace meta_db
