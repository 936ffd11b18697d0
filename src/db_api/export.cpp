// Export options, row sources (keyset paging) and the CSV / JSON lines / TCIA writers (export.hpp).
#include "db_api/export.hpp"

#include "db_api/export_split.hpp"
#include "db_api/models.hpp"

#include "common/error.hpp"
#include "common/json_io.hpp"

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

constexpr std::int64_t kPage = 1000;            // rows per store round trip
constexpr std::int64_t kMinPage = 50;           // the smallest page tried when one exceeds the query budget
constexpr std::size_t kFlushBytes = 64 * 1024;  // bytes buffered before a sink write
constexpr std::size_t kIdBatch = 500;           // series ids per instance lookup ($in)
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
void AppendCsvCell(std::string& out, std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) {
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
      source_(session_, RowProjection(), [this](std::vector<Document>& page) {
        for (const Document& doc : page) WriteRow(doc);
        return out_.Flush(false);
      });
    }
    out_.Flush(true);
    return rows_;
  }

 private:
  // The fields a row pass reads: the chosen ones plus what joins and splits need.
  std::optional<query::Projection> RowProjection() const {
    if (spec_.format == ExportFormat::kJsonl && !spec_.fields_given) return std::nullopt;
    std::set<std::string> paths{"_id"};
    for (const std::string& field : spec_.fields) {
      if (field != "path" && field != "split") paths.insert(field);
    }
    if (spec_.split || wants_path_) paths.insert(ParentKey());
    if (spec_.split) paths.insert("patient_id");
    if (wants_path_) paths.insert(spec_.level == Kind::kStudies ? "series" : "path");
    if (spec_.format == ExportFormat::kTcia) paths = {"_id", "series_instance_uid", "series"};
    return query::Projection{true, {paths.begin(), paths.end()}};
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
    source_(session_, query::Projection{true, {paths.begin(), paths.end()}}, [&](std::vector<Document>& page) {
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
      std::string cell;
      for (std::size_t i = 0; i < spec_.fields.size(); ++i) {
        if (i > 0) out.push_back(',');
        const std::string& field = spec_.fields[i];
        cell.clear();
        if (field == "path") {
          cell = PathOf(doc);
        } else {
          AppendCellText(cell, Lookup(doc, field));
        }
        AppendCsvCell(out, cell);
      }
      if (spec_.split) {
        out.push_back(',');
        AppendCsvCell(out, SplitOf(doc));
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
    source_(session_, RowProjection(), [&](std::vector<Document>& page) {
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

// The rows of `level` matching `filter`, `_id > last` page after page.
void KeysetPages(Session& session, Kind level, const boost::json::value& filter, const std::string& text,
                 const std::optional<query::Projection>& projection, const PageVisitor& visit) {
  std::string last;
  std::int64_t page_size = kPage;
  for (;;) {
    boost::json::value page_filter = filter;
    if (!last.empty()) {
      boost::json::object after;
      after["_id"] = boost::json::object{{"$gt", last}};
      if (filter.is_null()) {
        page_filter = std::move(after);
      } else {
        boost::json::object both;
        both["$and"] = boost::json::array{filter, std::move(after)};
        page_filter = std::move(both);
      }
    }
    query::Query query;
    if (!page_filter.is_null()) query.filter = query::ParseFilter(page_filter);
    query.sort = {{"_id", 1}};
    query.projection = projection;
    if (query.projection && query.projection->include) query.projection->paths.push_back("_id");
    query.text = text;
    query.count_total = false;
    FindResult result;
    // A page over the query budget (a slow back-end, a busy machine) is asked again in halves: an export is never
    // cut by a budget meant for one interactive query, unless a page of kMinPage rows is too slow.
    for (query.limit = page_size;; query.limit = page_size = std::max(kMinPage, page_size / 2)) {
      try {
        result = session.Find(level, query);
        break;
      } catch (const Error& error) {
        if (error.code() != Errc::kTimeout || query.limit <= kMinPage) throw;
      }
    }
    if (result.results.empty()) return;
    last = Text(result.results.back().if_contains("_id"));
    const bool full = static_cast<std::int64_t>(result.results.size()) == query.limit;
    if (!visit(result.results) || !full || last.empty()) return;
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
             Session& session, const std::optional<query::Projection>& projection, const PageVisitor& visit) {
    KeysetPages(session, level, filter, text, projection, visit);
  };
}

RowSource CollectionSource(Kind level, const ObjectId& collection) {
  const boost::json::value tagged = boost::json::object{{"collection_ids", collection.ToHex()}};
  if (level != Kind::kInstances) return FilterSource(level, tagged);
  // Instances carry no collection tag: the instances of the tagged series, a few hundred series at a time.
  return [tagged](Session& session, const std::optional<query::Projection>& projection, const PageVisitor& visit) {
    bool go_on = true;
    KeysetPages(session, Kind::kSeries, tagged, "", query::Projection{true, {"_id"}},
                [&](std::vector<Document>& series_page) {
                  for (std::size_t start = 0; go_on && start < series_page.size(); start += kIdBatch) {
                    boost::json::array ids;
                    for (std::size_t i = start; i < std::min(series_page.size(), start + kIdBatch); ++i) {
                      ids.push_back(series_page[i].at("_id"));
                    }
                    boost::json::object of_series;
                    of_series["series_id"] = boost::json::object{{"$in", std::move(ids)}};
                    KeysetPages(session, Kind::kInstances, of_series, "", projection,
                                [&](std::vector<Document>& page) { return go_on = visit(page); });
                  }
                  return go_on;
                });
  };
}

RowSource CohortSource(CohortQuery cohort) {
  cohort.count = false;
  return [cohort = std::move(cohort)](Session& session, const std::optional<query::Projection>& projection,
                                      const PageVisitor& visit) {
    CohortQuery page_of_ids = cohort;
    page_of_ids.ids = CohortIds{std::nullopt, kPage};
    for (;;) {
      const std::vector<ObjectId> ids = session.FindCohort(page_of_ids).ids;
      if (ids.empty()) return;
      boost::json::array list;
      list.reserve(ids.size());
      for (const ObjectId& id : ids) list.emplace_back(id.ToHex());
      query::Query query;
      query.filter = query::ParseFilter(boost::json::object{{"_id", boost::json::object{{"$in", std::move(list)}}}});
      query.sort = {{"_id", 1}};
      query.projection = projection;
      if (query.projection && query.projection->include) query.projection->paths.push_back("_id");
      query.count_total = false;
      query.limit = kPage;
      FindResult result = session.Find(cohort.level, query);
      if (!result.results.empty() && !visit(result.results)) return;
      if (static_cast<std::int64_t>(ids.size()) < kPage) return;
      page_of_ids.ids->after = ids.back();
    }
  };
}

std::int64_t RunExport(Store& store, const ExportSpec& spec, const RowSource& source, BodySink& sink) {
  std::int64_t rows = 0;
  store.Read([&](Session& session) { rows = ExportRun(session, spec, source, sink).Run(); });
  return rows;
}

}  // namespace meta_db::db_api
