// The catalogue's collections (the seed's schema plus jobs) and the fields each back-end indexes.
#pragma once

#include <optional>
#include <span>
#include <string_view>

namespace meta_db {

// kAnnotations: the LIDC reader annotations (one document per reader's mark, docs/annotations.md).
// kJobRecords: what a job resolution keeps beside the job, in documents of bounded size (report chunks, snapshots,
// the studies/series/patients each job linked into its collection): a 100,000-identifier report never sits in one
// document (MongoDB's 16 MiB limit).
enum class Kind { kResearchers, kCollections, kStudies, kSeries, kInstances, kJobs, kJobRecords, kAnnotations };

inline constexpr Kind kAllKinds[] = {Kind::kResearchers, Kind::kCollections, Kind::kStudies,
                                     Kind::kSeries,      Kind::kInstances,   Kind::kJobs,
                                     Kind::kJobRecords,  Kind::kAnnotations};

// "researchers", "collections", "studies", "series", "instances", "jobs", "job_records", "annotations".
std::string_view CollectionName(Kind kind);
std::optional<Kind> ParseKind(std::string_view name);

enum class FieldType { kText, kInteger, kReal };

// A document path the back-ends index (each back-end names and builds its index its own way).
// `path` is the dotted document path (a constant of ours, never user text).
struct IndexedField {
  std::string_view path;
  FieldType type;
  bool unique = false;
  // false: a field the back-end keeps ready for filters (SQLite: a column) without an index of its own —
  // for instance-level fields, where every index costs ingest time on hundreds of thousands of rows.
  bool indexed = true;
};

std::span<const IndexedField> IndexedFields(Kind kind);
// The indexed field at `path`, if any.
const IndexedField* FindIndexedField(Kind kind, std::string_view path);
// The unique business key of a kind ("study_instance_uid", "researcher_id", "name", ...), if it has one.
std::optional<std::string_view> UniqueKey(Kind kind);
// For child kinds, the field referencing the parent ("study_id" for series, "series_id" for instances).
std::optional<std::string_view> ParentField(Kind kind);
// The field children are ordered by inside their parent ("series_number", "instance_number").
std::optional<std::string_view> ChildOrderField(Kind kind);

}  // namespace meta_db
