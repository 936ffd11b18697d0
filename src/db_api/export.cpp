// Export options, row sources (keyset paging) and the CSV / JSON lines / TCIA writers (export.hpp).
#include "db_api/export.hpp"

#include "db_api/export_split.hpp"
#include "db_api/models.hpp"

#include "common/error.hpp"
#include "common/json_io.hpp"
#include "query/filter_tree.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <set>
#include <unordered_map>

namespace meta_db::db_api {

namespace {

constexpr std::int64_t kPage = 1000;            // rows per page handed to the writer
constexpr std::size_t kFlushBytes = 64 * 1024;  // bytes buffered before a sink write
// Series ids per instance scan (series_id $in): SQLite sorts the ids of a scan's matches, so a batch bounds that
// memory (~100 bytes per instance) whatever the collection's size, and a server back-end still gets few round trips.
constexpr std::size_t kSeriesPerScan = 64;
constexpr std::int64_t kCohortIdsPage = 2000;   // cohort ids per FindCohort page, read by _id $in (a filter < 64 KiB)
// Where the NBIA Data Retriever downloads listed series from (TCIA's public server): the manifest names series by
// UID; a site with its own NBIA server edits this line.
constexpr std::string_view kTciaServer = "https://nbia.cancerimagingarchive.net/nbia-download/servlet/DownloadServlet";

[[noreturn]] void BadParameter(std::string_view parameter, const std::string& message) {
  throw Error(Errc::kBadRequest, message, boost::json::object{{"parameter", parameter}});
}

std::vector<std::string> SplitList(std::string_view text, char separator) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(separator, start);
    if (end == std::string_view::npos) end = text.size();
    std::string item(text.substr(start, end - start));
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    out.push_back(std::move(item));
    start = end + 1;
  }
  return out;
}

std::vector<std::string> DefaultFields(Kind level) {
  switch (level) {
    case Kind::kStudies:
      return {"_id", "study_instance_uid", "patient_id", "accession_number", "study_date", "path"};
    case Kind::kSeries:
      return {"_id", "study_id", "series_instance_uid", "patient_id", "accession_number", "modality",
              "series_number", "num_instances", "path"};
    default:
      return {"_id", "series_id", "series_instance_uid", "sop_instance_uid", "instance_number", "path"};
  }
}

// A field is a dotted path whose first part the level's documents have: a schema field, "path", or one of the
// open objects (metadata; the series' annotations and qc summaries). Anything else is a 400 naming it.
void CheckField(Kind level, const std::string& field) {
  const auto fail = [&] {
    throw Error(Errc::kBadRequest,
                "unknown field '" + field + "' for level " + std::string(CollectionName(level)) +
                    " (schema fields, path, or metadata.<Keyword>)",
                boost::json::object{{"parameter", "fields"}, {"field", field}});
  };
  if (field.empty() || field.size() > 200) fail();
  const std::vector<std::string> parts = SplitList(field, '.');
  for (const std::string& part : parts) {
    if (part.empty() || part.front() == '$') fail();
    for (unsigned char c : part) {
      if (std::isalnum(c) == 0 && c != '_' && c != '-') fail();
    }
  }
  const std::string& head = parts.front();
  if (head == "path" || head == "split") {
    if (parts.size() != 1) fail();
    return;
  }
  const bool open_object = head == "metadata" || (level == Kind::kSeries && (head == "annotations" || head == "qc"));
  if (open_object) {
    if (parts.size() < 2) fail();
    return;
  }
  for (const FieldSpec& spec : Fields(level)) {
    if (spec.name == head) return;
  }
  if (head == "series_instance_uid" && level == Kind::kInstances) return;  // ingest copies it onto instances
  if (head == "study_instance_uid" && level == Kind::kSeries) return;
  fail();
}

std::vector<SplitPart> ParseParts(const std::string& text) {
  std::vector<SplitPart> parts;
  std::set<std::string> names;
  for (const std::string& item : SplitList(text, ',')) {
    const auto colon = item.find(':');
    const std::string name = item.substr(0, colon);
    int weight = 0;
    const std::string number = colon == std::string::npos ? "" : item.substr(colon + 1);
    const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), weight);
    if (name.empty() || number.empty() || ec != std::errc() || end != number.data() + number.size() || weight <= 0 ||
        weight > 1000000) {
      BadParameter("split", "malformed split '" + text + "': name:weight pairs such as train:70,val:15,test:15");
    }
    for (unsigned char c : name) {
      if (std::isalnum(c) == 0 && c != '_' && c != '-') {
        BadParameter("split", "split name '" + name + "' must be letters, digits, '_' or '-'");
      }
    }
    if (!names.insert(name).second) BadParameter("split", "split name '" + name + "' given twice");
    parts.push_back({name, weight});
  }
  if (parts.size() < 2 || parts.size() > 20) BadParameter("split", "a split needs 2 to 20 parts");
  return parts;
}

// ---- reading fields ----

const boost::json::value* Lookup(const Document& doc, std::string_view path) {
  const boost::json::object* object = &doc;
  for (;;) {
    const auto dot = path.find('.');
    const auto* value = object->if_contains(path.substr(0, dot));
    if (value == nullptr || dot == std::string_view::npos) return value;
    if (!value->is_object()) return nullptr;
    object = &value->as_object();
    path.remove_prefix(dot + 1);
  }
}

void AppendScalar(std::string& out, const boost::json::value& value) {
  switch (value.kind()) {
    case boost::json::kind::null: break;
    case boost::json::kind::string: out.append(value.as_string()); break;
    case boost::json::kind::bool_: out.append(value.as_bool() ? "true" : "false"); break;
    case boost::json::kind::double_: {
      // The shortest text that reads back as the same double ("1.25", not Boost.JSON's "1.25E0").
      char text[64];
      const auto [end, ec] = std::to_chars(text, text + sizeof text, value.as_double());
      if (ec == std::errc()) out.append(text, end);
      break;
    }
    default: out.append(boost::json::serialize(value));
  }
}

// A CSV cell's text: scalars as they are (null and missing empty), an array of scalars joined with '|', anything
// nested as its JSON.
void AppendCellText(std::string& out, const boost::json::value* value) {
  if (value == nullptr) return;
  if (value->is_array()) {
    const auto& array = value->as_array();
    const bool flat = std::all_of(array.begin(), array.end(), [](const auto& v) { return !v.is_structured(); });
    if (!flat) {
      out.append(boost::json::serialize(*value));
      return;
    }
    for (std::size_t i = 0; i < array.size(); ++i) {
      if (i > 0) out.push_back('|');
      AppendScalar(out, array[i]);
    }
    return;
  }
  if (value->is_object()) {
    out.append(boost::json::serialize(*value));
    return;
  }
  AppendScalar(out, *value);
}

// RFC 4180: a cell with a comma, quote, CR or LF is quoted, its quotes doubled.
bool NeedsQuotes(std::string_view text) {
  for (const char c : text) {
    if (c == ',' || c == '"' || c == '\r' || c == '\n') return true;
  }
  return false;
}

void AppendCsvCell(std::string& out, std::string_view text) {
  if (!NeedsQuotes(text)) {
    out.append(text);
    return;
  }
  out.push_back('"');
  for (char c : text) {
    if (c == '"') out.push_back('"');
    out.push_back(c);
  }
  out.push_back('"');
}

// Quotes the cell text appended to `out` since `start` when it needs it (cells are written in place, then fixed).
void QuoteCsvCell(std::string& out, std::size_t start) {
  if (!NeedsQuotes(std::string_view(out).substr(start))) return;
  const std::string text = out.substr(start);
  out.resize(start);
  AppendCsvCell(out, text);
}

std::string Text(const boost::json::value* value) {
  std::string out;
  AppendCellText(out, value);
  return out;
}

std::string DirectoryOfPath(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? std::string() : std::string(path.substr(0, slash));
}

// ---- the export run ----

// Buffers output and hands it to the sink in large pieces; remembers when the receiver went away.
class Output {
 public:
  explicit Output(BodySink& sink) : sink_(sink) {}
  std::string& buffer() { return buffer_; }
  bool Flush(bool force) {
    if (gone_) return false;
    if (buffer_.empty() || (!force && buffer_.size() < kFlushBytes)) return true;
    gone_ = !sink_.Write(buffer_);
    buffer_.clear();
    return !gone_;
  }
  bool gone() const { return gone_; }

 private:
  BodySink& sink_;
  std::string buffer_;
  bool gone_ = false;
};

struct SeriesFacts {
  std::string patient_id;
  std::string stratum;
};

class ExportRun {
 public:
  ExportRun(Session& session, const ExportSpec& spec, const RowSource& source, BodySink& sink)
      : session_(session), spec_(spec), source_(source), out_(sink) {
    for (const std::string& field : spec.fields) {
      if (field == "path") wants_path_ = true;
    }
  }

  std::int64_t Run() {
    if (spec_.split) AssignPatients();
    if (out_.gone()) return rows_;
    if (spec_.format == ExportFormat::kTcia) {
      WriteTcia();
    } else {
      if (spec_.format == ExportFormat::kCsv) WriteCsvHeader();
      source_(session_, RowFields(), [this](std::vector<Document>& page) {
        for (const Document& doc : page) WriteRow(doc);
        return out_.Flush(false);
      });
    }
    out_.Flush(true);
    return rows_;
  }

 private:
  // The fields a row pass reads: the chosen ones plus what joins and splits need.
  std::optional<std::vector<std::string>> RowFields() const {
    if (spec_.format == ExportFormat::kJsonl && !spec_.fields_given) return std::nullopt;
    if (spec_.format == ExportFormat::kTcia) return std::vector<std::string>{"_id", "series_instance_uid", "series"};
    // In the columns' order, so a row's members mostly sit where the writer looks first (CellValue).
    std::vector<std::string> paths{"_id"};
    const auto add = [&](const std::string& path) {
      if (std::find(paths.begin(), paths.end(), path) == paths.end()) paths.push_back(path);
    };
    for (const std::string& field : spec_.fields) {
      if (field != "path" && field != "split") add(field);
    }
    if (spec_.split || wants_path_) add(ParentKey());
    if (spec_.split) add("patient_id");
    if (wants_path_) add(spec_.level == Kind::kStudies ? "series" : "path");
    return paths;
  }

  std::string ParentKey() const { return spec_.level == Kind::kInstances ? "series_id" : "_id"; }

  // Patient and stratum of a row; an instance takes its series' patient, and the stratify value from the series
  // when the instance itself has none (Manufacturer and the like are series attributes).
  std::pair<std::string, std::string> PatientAndStratum(const Document& doc) {
    std::string stratum = spec_.split->stratify.empty() ? "" : Text(Lookup(doc, spec_.split->stratify));
    if (spec_.level != Kind::kInstances) return {Text(doc.if_contains("patient_id")), stratum};
    const SeriesFacts& facts = Series(Text(doc.if_contains("series_id")));
    return {facts.patient_id, stratum.empty() ? facts.stratum : stratum};
  }

  const SeriesFacts& Series(const std::string& id) {
    auto it = series_.find(id);
    if (it != series_.end()) return it->second;
    SeriesFacts facts;
    if (const auto oid = ObjectId::Parse(id)) {
      if (const auto series = session_.Get(Kind::kSeries, *oid)) {
        facts.patient_id = Text(series->if_contains("patient_id"));
        if (spec_.split && !spec_.split->stratify.empty()) facts.stratum = Text(Lookup(*series, spec_.split->stratify));
      }
    }
    return series_.emplace(id, std::move(facts)).first->second;
  }

  // First pass: every patient's stratum values; then the assignment (memory: one entry per patient).
  void AssignPatients() {
    std::set<std::string> paths{"_id", "patient_id"};
    if (spec_.level == Kind::kInstances) paths.insert("series_id");
    if (!spec_.split->stratify.empty()) paths.insert(spec_.split->stratify);
    std::map<std::string, PatientStrata> patients;
    source_(session_, std::vector<std::string>(paths.begin(), paths.end()), [&](std::vector<Document>& page) {
      for (const Document& doc : page) {
        auto [patient, stratum] = PatientAndStratum(doc);
        auto& strata = patients[patient];
        if (!stratum.empty()) ++strata.values[stratum];
      }
      return true;
    });
    split_ = AssignSplits(*spec_.split, patients);
  }

  std::string SplitOf(const Document& doc) {
    const auto it = split_.find(PatientAndStratum(doc).first);
    return it == split_.end() ? std::string() : it->second;
  }

  // The row's files on the mounted archive: an instance's file; a series' directory (of its first instance); a
  // study's directory (above its first series').
  std::string PathOf(const Document& doc) {
    if (spec_.level == Kind::kInstances) return Text(doc.if_contains("path"));
    std::string series_id;
    if (spec_.level == Kind::kSeries) {
      series_id = Text(doc.if_contains("_id"));
    } else if (const auto* series = doc.if_contains("series"); series != nullptr && series->is_array()) {
      for (const auto& entry : series->as_array()) {
        if (!entry.is_object()) continue;
        if (const auto* id = entry.as_object().if_contains("series_id"); id != nullptr && id->is_string()) {
          series_id = std::string(id->as_string());
          break;
        }
      }
    }
    if (series_id.empty()) return {};
    query::Query first;
    first.filter = query::ParseFilter(boost::json::object{{"series_id", series_id}});
    first.projection = query::Projection{true, {"path"}};
    first.count_total = false;
    first.limit = 1;
    const FindResult found = session_.Find(Kind::kInstances, first);
    if (found.results.empty()) return {};
    const std::string directory = DirectoryOfPath(Text(found.results.front().if_contains("path")));
    return spec_.level == Kind::kSeries ? directory : DirectoryOfPath(directory);
  }

  void WriteCsvHeader() {
    std::string& out = out_.buffer();
    for (std::size_t i = 0; i < spec_.fields.size(); ++i) {
      if (i > 0) out.push_back(',');
      AppendCsvCell(out, spec_.fields[i]);
    }
    if (spec_.split) out.append(",split");
    out.append("\r\n");
  }

  void WriteRow(const Document& doc) {
    ++rows_;
    std::string& out = out_.buffer();
    if (spec_.format == ExportFormat::kCsv) {
      for (std::size_t i = 0; i < spec_.fields.size(); ++i) {
        if (i > 0) out.push_back(',');
        const std::string& field = spec_.fields[i];
        const std::size_t start = out.size();
        if (field == "path") {
          out.append(PathOf(doc));
        } else {
          AppendCellText(out, CellValue(doc, i));
        }
        QuoteCsvCell(out, start);
      }
      if (spec_.split) {
        out.push_back(',');
        const std::size_t start = out.size();
        out.append(SplitOf(doc));
        QuoteCsvCell(out, start);
      }
      out.append("\r\n");
      return;
    }
    // JSON lines: the whole neutral document, or the chosen fields (nested as in the document).
    Document line = spec_.fields_given ? query::Project(doc, query::Projection{true, JsonPaths()}) : doc;
    if (wants_path_ && spec_.level != Kind::kInstances) line["path"] = PathOf(doc);
    if (wants_path_ && spec_.level == Kind::kInstances && !line.contains("path")) line["path"] = PathOf(doc);
    if (spec_.split) line["split"] = SplitOf(doc);
    out.append(boost::json::serialize(line));
    out.push_back('\n');
  }

  // The value of column i: a row read for the export has its fields in the columns' order (RowFields), so the member
  // at the column's position is tried before a lookup by name.
  const boost::json::value* CellValue(const Document& doc, std::size_t column) const {
    const std::string& field = spec_.fields[column];
    if (column < doc.size()) {
      const auto& member = *(doc.begin() + static_cast<std::ptrdiff_t>(column));
      if (member.key() == field) return &member.value();
    }
    return Lookup(doc, field);
  }

  std::vector<std::string> JsonPaths() const {
    std::vector<std::string> paths;
    for (const std::string& field : spec_.fields) {
      if (field != "path" && field != "split") paths.push_back(field);
    }
    return paths;
  }

  // The NBIA Data Retriever's manifest (manifestVersion 3.0): header lines, then one SeriesInstanceUID per line,
  // each series once.
  void WriteTcia() {
    std::string& out = out_.buffer();
    out.append("downloadServerUrl=").append(kTciaServer).append("\n");
    out.append("includeAnnotation=true\nnoOfrRetry=4\n");
    out.append("databasketId=manifest-meta_db.tcia\nmanifestVersion=3.0\nListOfSeriesToDownload=\n");
    std::set<std::string> seen;  // instances repeat their series; studies' summaries could overlap
    const auto list = [&](const std::string& uid) {
      if (uid.empty() || !seen.insert(uid).second) return;
      ++rows_;
      out_.buffer().append(uid).push_back('\n');
    };
    source_(session_, RowFields(), [&](std::vector<Document>& page) {
      for (const Document& doc : page) {
        if (spec_.level != Kind::kStudies) {
          list(Text(doc.if_contains("series_instance_uid")));
          continue;
        }
        if (const auto* series = doc.if_contains("series"); series != nullptr && series->is_array()) {
          for (const auto& entry : series->as_array()) {
            if (entry.is_object()) list(Text(entry.as_object().if_contains("series_instance_uid")));
          }
        }
      }
      return out_.Flush(false);
    });
  }

  Session& session_;
  const ExportSpec& spec_;
  const RowSource& source_;
  Output out_;
  bool wants_path_ = false;
  std::int64_t rows_ = 0;
  std::unordered_map<std::string, SeriesFacts> series_;
  std::map<std::string, std::string> split_;
};

// The rows of `level` matching `filter` (a filter of the language; null for all) in _id order.
void FilterPages(Session& session, Kind level, const boost::json::value& filter, const std::string& text,
                 const std::optional<std::vector<std::string>>& fields, const PageVisitor& visit) {
  ScanQuery scan;
  if (!filter.is_null()) scan.filter = query::ParseFilter(filter);
  scan.text = text;
  scan.fields = fields;
  scan.page = kPage;
  session.ScanPages(level, scan, visit);
}

// `series_id $in ids` AND-ed with `also` (may be null), built as a tree: a filter the server builds is not held to
// the limits meant for clients' filters (list length, bytes).
std::shared_ptr<const query::Filter> OfSeries(boost::json::array ids, const std::shared_ptr<const query::Filter>& also) {
  query::Filter in;
  in.op = query::Op::kIn;
  in.path = "series_id";
  in.parts = {"series_id"};
  in.value = std::move(ids);
  if (!also) return std::make_shared<const query::Filter>(std::move(in));
  query::Filter both;
  both.op = query::Op::kAnd;
  both.children = {std::move(in), *also};
  return std::make_shared<const query::Filter>(std::move(both));
}

// The instances of `series` (ids, in _id order) that match `also` (null: all), in _id order within each kSeriesPerScan
// series.
void InstancesOfSeries(Session& session, const std::vector<std::string>& series,
                       const std::shared_ptr<const query::Filter>& also,
                       const std::optional<std::vector<std::string>>& fields, const PageVisitor& visit) {
  bool go_on = true;
  for (std::size_t start = 0; go_on && start < series.size(); start += kSeriesPerScan) {
    boost::json::array ids;
    for (std::size_t i = start; i < std::min(series.size(), start + kSeriesPerScan); ++i) ids.emplace_back(series[i]);
    ScanQuery scan;
    scan.filter = OfSeries(std::move(ids), also);
    scan.fields = fields;
    scan.page = kPage;
    session.ScanPages(Kind::kInstances, scan, [&](std::vector<Document>& page) { return go_on = visit(page); });
  }
}

}  // namespace

ExportSpec ParseExportSpec(const std::optional<std::string>& format, const std::optional<std::string>& level,
                           const std::optional<std::string>& fields, const std::optional<std::string>& split,
                           const std::optional<std::string>& stratify, const std::optional<std::string>& seed,
                           Kind default_level) {
  ExportSpec spec;
  const std::string format_name = format.value_or("csv");
  if (format_name == "csv") spec.format = ExportFormat::kCsv;
  else if (format_name == "jsonl") spec.format = ExportFormat::kJsonl;
  else if (format_name == "tcia") spec.format = ExportFormat::kTcia;
  else BadParameter("format", "unknown export format '" + format_name + "' (csv, jsonl or tcia)");
  spec.level = default_level;
  if (level) {
    const auto kind = ParseKind(*level);
    if (!kind || (*kind != Kind::kStudies && *kind != Kind::kSeries && *kind != Kind::kInstances)) {
      BadParameter("level", "unknown export level '" + *level + "' (studies, series or instances)");
    }
    spec.level = *kind;
  }
  if (fields && !fields->empty()) {
    spec.fields_given = true;
    std::set<std::string> seen;
    for (const std::string& field : SplitList(*fields, ',')) {
      CheckField(spec.level, field);
      if (field == "split") BadParameter("fields", "'split' is a column of split=, not a field");
      if (seen.insert(field).second) spec.fields.push_back(field);
    }
    if (spec.fields.size() > 200) BadParameter("fields", "more than 200 fields");
  } else {
    spec.fields = DefaultFields(spec.level);
  }
  if (!split && (stratify || seed)) {
    BadParameter(stratify ? "stratify" : "seed", "stratify and seed need split=");
  }
  if (split) {
    if (spec.format == ExportFormat::kTcia) BadParameter("split", "a TCIA manifest has no split column");
    SplitSpec s;
    s.parts = ParseParts(*split);
    if (stratify && !stratify->empty()) {
      try {
        CheckField(spec.level, *stratify);
      } catch (const Error&) {
        // A series attribute is a valid stratum for instances (looked up on their series).
        if (spec.level != Kind::kInstances) BadParameter("stratify", "unknown stratify field '" + *stratify + "'");
        try {
          CheckField(Kind::kSeries, *stratify);
        } catch (const Error&) {
          BadParameter("stratify", "unknown stratify field '" + *stratify + "'");
        }
      }
      if (*stratify == "path") BadParameter("stratify", "cannot stratify by path");
      s.stratify = *stratify;
    }
    if (seed) {
      const auto [end, ec] = std::from_chars(seed->data(), seed->data() + seed->size(), s.seed);
      if (seed->empty() || ec != std::errc() || end != seed->data() + seed->size()) {
        BadParameter("seed", "seed must be a non-negative integer below 2^64");
      }
    }
    spec.split = std::move(s);
  }
  return spec;
}

std::string_view ExportContentType(ExportFormat format) {
  switch (format) {
    case ExportFormat::kCsv: return "text/csv; charset=utf-8";
    case ExportFormat::kJsonl: return "application/x-ndjson";
    case ExportFormat::kTcia: return "text/plain; charset=utf-8";
  }
  return "application/octet-stream";
}

std::string ExportFileName(const ExportSpec& spec, std::string_view stem) {
  const std::string_view extension = spec.format == ExportFormat::kCsv     ? "csv"
                                     : spec.format == ExportFormat::kJsonl ? "jsonl"
                                                                           : "tcia";
  return std::string(stem) + "-" + std::string(CollectionName(spec.level)) + "." + std::string(extension);
}

RowSource FilterSource(Kind level, boost::json::value filter, std::string text) {
  return [level, filter = std::move(filter), text = std::move(text)](
             Session& session, const std::optional<std::vector<std::string>>& fields, const PageVisitor& visit) {
    FilterPages(session, level, filter, text, fields, visit);
  };
}

RowSource CollectionSource(Kind level, const ObjectId& collection) {
  const boost::json::value tagged = boost::json::object{{"collection_ids", collection.ToHex()}};
  if (level != Kind::kInstances) return FilterSource(level, tagged);
  // Instances carry no collection tag: the instances of the tagged series.
  return [tagged](Session& session, const std::optional<std::vector<std::string>>& fields, const PageVisitor& visit) {
    std::vector<std::string> series;
    FilterPages(session, Kind::kSeries, tagged, "", std::vector<std::string>{"_id"},
                [&](std::vector<Document>& page) {
                  for (const Document& doc : page) series.emplace_back(doc.at("_id").as_string());
                  return true;
                });
    InstancesOfSeries(session, series, nullptr, fields, visit);
  };
}

RowSource CohortSource(CohortQuery cohort) {
  cohort.count = false;
  return [cohort = std::move(cohort)](Session& session, const std::optional<std::vector<std::string>>& fields,
                                      const PageVisitor& visit) {
    CohortQuery page_of_ids = cohort;
    // A cohort's instances are those of its series that match its instance filter: its series' ids (few) are paged
    // through, then their instances scanned, rather than the instances' own ids page after page.
    if (cohort.level == Kind::kInstances) page_of_ids.level = Kind::kSeries;
    page_of_ids.ids = CohortIds{std::nullopt, page_of_ids.level == Kind::kSeries ? kMaxCohortIdsPage : kCohortIdsPage};
    std::vector<std::string> series;
    for (;;) {
      const std::vector<ObjectId> ids = session.FindCohort(page_of_ids).ids;
      if (ids.empty()) break;
      if (cohort.level == Kind::kInstances) {
        for (const ObjectId& id : ids) series.push_back(id.ToHex());
      } else {
        boost::json::array list;
        list.reserve(ids.size());
        for (const ObjectId& id : ids) list.emplace_back(id.ToHex());
        bool go_on = true;
        FilterPages(session, cohort.level, boost::json::object{{"_id", boost::json::object{{"$in", std::move(list)}}}},
                    "", fields, [&](std::vector<Document>& page) { return go_on = visit(page); });
        if (!go_on) return;
      }
      if (static_cast<std::int64_t>(ids.size()) < page_of_ids.ids->limit) break;
      page_of_ids.ids->after = ids.back();
    }
    if (cohort.level == Kind::kInstances) InstancesOfSeries(session, series, cohort.instances, fields, visit);
  };
}

std::int64_t RunExport(Store& store, const ExportSpec& spec, const RowSource& source, BodySink& sink) {
  std::int64_t rows = 0;
  store.ReadPass([&](Session& session) { rows = ExportRun(session, spec, source, sink).Run(); });
  return rows;
}

}  // namespace meta_db::db_api
