// Streamed exports of catalogue rows (CSV, JSON lines, TCIA manifest) with an optional ML split, shared by the
// HTTP export routes and `meta_db export` (docs/exports.md).
// Thread-safety: every function is reentrant; a RowSource runs on the thread that calls it.
#pragma once

#include "db_api/http.hpp"
#include "model/kind.hpp"
#include "query/query.hpp"
#include "store/store.hpp"

#include <boost/json/value.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace meta_db::db_api {

enum class ExportFormat { kCsv, kJsonl, kTcia };

struct SplitPart {
  std::string name;  // "train"
  int weight = 0;    // relative share, e.g. 70
};

struct SplitSpec {
  std::vector<SplitPart> parts;
  std::string stratify;  // a field path; "" for none
  std::uint64_t seed = 0;
};

struct ExportSpec {
  ExportFormat format = ExportFormat::kCsv;
  Kind level = Kind::kSeries;
  std::vector<std::string> fields;  // never empty after parsing (defaults filled in)
  bool fields_given = false;        // JSON lines: without chosen fields, whole documents
  std::optional<SplitSpec> split;
};

// The export options as the query string and the command line spell them (absent = default). Throws
// Error(kBadRequest) naming the parameter (details {"parameter": name}) for an unknown format, level or field,
// or a malformed split / seed. `levels` restricts `level` (a /query export's level is its body's collection).
ExportSpec ParseExportSpec(const std::optional<std::string>& format, const std::optional<std::string>& level,
                           const std::optional<std::string>& fields, const std::optional<std::string>& split,
                           const std::optional<std::string>& stratify, const std::optional<std::string>& seed,
                           Kind default_level = Kind::kSeries);

std::string_view ExportContentType(ExportFormat format);
std::string ExportFileName(const ExportSpec& spec, std::string_view stem);  // "stem-series.csv"

// One pass over an export's rows in a stable order: hands pages of documents of the export's level to `visit`
// until it returns false or the rows are exhausted. `fields` names the fields the pass needs (nullopt: whole
// documents), which the store reads alone (CatalogSession::ScanPages). A split makes two passes, so a source must
// give the same rows each time it is called.
using PageVisitor = ScanVisitor;
using RowSource = std::function<void(Session& session, const std::optional<std::vector<std::string>>& fields,
                                     const PageVisitor& visit)>;

// The documents of `level` matching `filter` (a /query filter; null for all) and free `text` (/query's "q"), in _id
// order (CatalogSession::ScanPages), never by skip: each page costs the same however deep the export is.
RowSource FilterSource(Kind level, boost::json::value filter, std::string text = "");
// A collection's rows: the studies / series tagged with it (collection_ids), or the instances of its series (series
// in _id order, 64 at a time, their instances in _id order within each 64).
RowSource CollectionSource(Kind level, const ObjectId& collection);
// A cross-level cohort's rows of its returned level (POST /cohort/export): its studies / series by their ids, paged in
// _id order by the store (CohortQuery::ids); its instances as those of its series matching its instance filter (in
// the collection's order: series 64 at a time).
RowSource CohortSource(CohortQuery cohort);

// Writes the whole export through `sink` inside one store read (Store::ReadPass: memory flat whatever the
// catalogue's size); returns the rows written (a TCIA manifest: the series listed). Stops early, without error, when the sink reports the receiver gone.
std::int64_t RunExport(Store& store, const ExportSpec& spec, const RowSource& source, BodySink& sink);

}  // namespace meta_db::db_api

namespace meta_db::db_api {

// `meta_db export`: the rows of a collection (by name) or of a /query body read from a file, written to `out`
// ("-" for stdout). Throws Error(kBadRequest / kNotFound) as the HTTP routes answer 400 / 404. Returns the rows.
struct ExportCommand {
  std::string collection;  // a collection's name, or
  std::string query_file;  // a file holding a /query body
  std::optional<std::string> format, level, fields, split, stratify, seed;
  std::string out = "-";
};
std::int64_t RunExportCommand(Store& store, const ExportCommand& command);

}  // namespace meta_db::db_api
