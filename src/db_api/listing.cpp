// List endpoints' query parameters: one table per collection, compiled into a single filter document that the
// query module parses (so list filters and POST /query share one semantics).
#include "db_api/listing.hpp"

#include "catalog/series_qc.hpp"
#include "common/error.hpp"
#include "common/object_id.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <span>

namespace meta_db::db_api {

namespace {

enum class P { kText, kSubstring, kId, kDateFrom, kDateTo, kMin, kMax, kStudyModality, kQcFlag, kKernelClass };

struct ListParam {
  std::string_view name;
  P kind;
  std::string_view path;
  std::string_view description;
};

constexpr ListParam kStudyParams[] = {
    {"modality", P::kStudyModality, "", "a series of the study has this modality (series.modality) or "
                                        "metadata.ModalitiesInStudy contains it"},
    {"patient_id", P::kText, "patient_id", "exact; * and ? wildcards"},
    {"accession_number", P::kText, "accession_number", "exact; * and ? wildcards"},
    {"study_instance_uid", P::kText, "study_instance_uid", "exact"},
    {"study_date_from", P::kDateFrom, "study_date", "inclusive, YYYYMMDD or YYYY-MM-DD"},
    {"study_date_to", P::kDateTo, "study_date", "inclusive, YYYYMMDD or YYYY-MM-DD"},
    {"study_description", P::kSubstring, "metadata.StudyDescription", "case-insensitive substring"},
    {"collection_id", P::kId, "collection_ids", "studies whose collection_ids contain this id"},
};
constexpr ListParam kSeriesParams[] = {
    {"modality", P::kText, "modality", "exact; * and ? wildcards"},
    {"body_part_examined", P::kText, "metadata.BodyPartExamined", "exact; wildcards"},
    {"manufacturer", P::kText, "metadata.Manufacturer", "exact; wildcards"},
    {"manufacturer_model_name", P::kText, "metadata.ManufacturerModelName", "exact; wildcards"},
    {"convolution_kernel", P::kText, "metadata.ConvolutionKernel", "exact; wildcards"},
    {"slice_thickness_min", P::kMin, "metadata.SliceThickness", "inclusive, mm"},
    {"slice_thickness_max", P::kMax, "metadata.SliceThickness", "inclusive, mm"},
    {"series_description", P::kSubstring, "series_description", "case-insensitive substring"},
    {"series_instance_uid", P::kText, "series_instance_uid", "exact"},
    {"patient_id", P::kText, "patient_id", "exact; wildcards"},
    {"accession_number", P::kText, "accession_number", "exact; wildcards"},
    {"study_id", P::kId, "study_id", "parent study id"},
    {"collection_id", P::kId, "collection_ids", "series whose collection_ids contain this id"},
    {"min_instances", P::kMin, "num_instances", "at least this many instances"},
    {"max_instances", P::kMax, "num_instances", "at most this many instances"},
    {"min_nodules", P::kMin, "annotations.nodules", "at least this many physical nodules (LIDC reads)"},
    {"min_max_diameter_mm", P::kMin, "annotations.max_diameter_mm", "its largest nodule at least this wide, mm"},
    {"min_malignancy", P::kMin, "annotations.max_malignancy", "a reader rated a nodule's malignancy at least this"},
    {"min_nodule_readers", P::kMin, "annotations.max_nodule_readers", "a nodule marked by at least this many readers"},
    {"qc_flag", P::kQcFlag, "qc.flags", "series whose qc.flags contain this flag (docs/qc.md)"},
    {"kernel_class", P::kKernelClass, "qc.kernel_class", "soft | standard | sharp | unknown (docs/qc.md)"},
};
constexpr ListParam kAnnotationParams[] = {
    {"series_id", P::kId, "series_id", "the annotated series"},
    {"series_instance_uid", P::kText, "series_instance_uid", "exact"},
    {"kind", P::kText, "kind", "nodule | small_nodule | non_nodule"},
    {"min_diameter_mm", P::kMin, "diameter_mm", "at least this diameter, mm"},
    {"min_malignancy", P::kMin, "ratings.malignancy", "malignancy rating at least this"},
    {"min_nodule_readers", P::kMin, "nodule_readers", "its physical nodule marked by at least this many readers"},
};
constexpr ListParam kInstanceParams[] = {
    {"series_id", P::kId, "series_id", "parent series id"},
    {"sop_instance_uid", P::kText, "sop_instance_uid", "exact"},
    {"sop_class_uid", P::kText, "sop_class_uid", "exact; wildcards"},
};
constexpr ListParam kResearcherParams[] = {
    {"researcher_id", P::kText, "researcher_id", "exact; wildcards"},
    {"name", P::kSubstring, "name", "case-insensitive substring"},
    {"email", P::kText, "email", "exact; wildcards"},
};
constexpr ListParam kCollectionParams[] = {
    {"name", P::kSubstring, "name", "case-insensitive substring"},
};
constexpr ListParam kJobParams[] = {
    {"researcher_id", P::kText, "researcher_id", "exact"},
    {"status", P::kText, "status", "queued | running | done | failed"},
    {"collection_id", P::kId, "collection_id", "target collection id"},
};

std::span<const ListParam> ParamTable(Kind kind) {
  switch (kind) {
    case Kind::kStudies: return kStudyParams;
    case Kind::kSeries: return kSeriesParams;
    case Kind::kInstances: return kInstanceParams;
    case Kind::kResearchers: return kResearcherParams;
    case Kind::kCollections: return kCollectionParams;
    case Kind::kJobs: return kJobParams;
    case Kind::kAnnotations: return kAnnotationParams;
    case Kind::kJobRecords: return {};
  }
  return {};
}

[[noreturn]] void BadParam(std::string_view name, const std::string& why) {
  throw Error(Errc::kBadRequest, "query parameter '" + std::string(name) + "' " + why,
              boost::json::object{{"parameter", name}});
}

bool HasWildcard(std::string_view text) { return text.find_first_of("*?") != std::string_view::npos; }

std::optional<double> AsNumber(std::string_view text) {
  if (text.empty()) return std::nullopt;
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

boost::json::value NumberValue(double value) {
  // Integral values stay integers so they compare exactly with stored integers.
  if (std::floor(value) == value && std::fabs(value) < 9e15) return static_cast<std::int64_t>(value);
  return value;
}

boost::json::object TextClause(std::string_view path, const std::string& value, bool case_insensitive) {
  boost::json::object condition;
  if (HasWildcard(value)) {
    condition["$regex"] = query::WildcardToRegex(value);
  } else if (case_insensitive) {
    condition["$regex"] = EscapeRegex(value);
  } else {
    return {{path, value}};
  }
  if (case_insensitive) condition["$options"] = "i";
  return {{path, std::move(condition)}};
}

boost::json::object Clause(const ListParam& param, const std::string& value) {
  switch (param.kind) {
    case P::kText:
      return TextClause(param.path, value, false);
    case P::kSubstring:
      return TextClause(param.path, value, true);
    case P::kId:
      if (!ObjectId::IsValid(value)) BadParam(param.name, "must be a 24-hex ObjectId");
      return {{param.path, value}};
    case P::kDateFrom:
    case P::kDateTo: {
      std::string date;
      try {
        date = query::NormalizeDicomDate(value);
      } catch (const Error&) {
        BadParam(param.name, "must be a date YYYYMMDD or YYYY-MM-DD");
      }
      // Stored dates keep the DICOM DA form YYYYMMDD (PS3.5 6.2), so compare in that form.
      std::erase(date, '-');
      return {{param.path, {{param.kind == P::kDateFrom ? "$gte" : "$lte", date}}}};
    }
    case P::kMin:
    case P::kMax: {
      auto number = AsNumber(value);
      if (!number) BadParam(param.name, "must be a number");
      return {{param.path, {{param.kind == P::kMin ? "$gte" : "$lte", NumberValue(*number)}}}};
    }
    case P::kQcFlag:
    case P::kKernelClass: {
      const std::span<const std::string_view> allowed =
          param.kind == P::kQcFlag ? std::span<const std::string_view>(catalog::kQcFlags)
                                   : std::span<const std::string_view>(catalog::kKernelClasses);
      if (std::find(allowed.begin(), allowed.end(), value) == allowed.end()) {
        std::string names;
        for (std::string_view name : allowed) names += (names.empty() ? "" : ", ") + std::string(name);
        BadParam(param.name, "must be one of " + names);
      }
      return {{param.path, value}};  // on an array field: membership
    }
    case P::kStudyModality: {
      boost::json::array any{TextClause("series.modality", value, false),
                             TextClause("metadata.ModalitiesInStudy", value, false)};
      return {{"$or", std::move(any)}};
    }
  }
  return {};
}

boost::json::object MetadataClause(const std::string& name, const std::string& value) {
  for (char c : std::string_view(name).substr(9)) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.') {
      BadParam(name, "is not a metadata keyword path");
    }
  }
  if (auto number = AsNumber(value)) {
    // Extracted values are typed (DS/IS as numbers) but client-created ones may be strings: match either.
    return {{name, {{"$in", boost::json::array{NumberValue(*number), boost::json::value(value)}}}}};
  }
  return TextClause(name, value, false);
}

std::vector<query::SortKey> ParseSort(const std::string& text) {
  std::vector<query::SortKey> keys;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    std::string field = text.substr(start, end - start);
    int direction = 1;
    if (!field.empty() && (field.front() == '-' || field.front() == '+')) {
      direction = field.front() == '-' ? -1 : 1;
      field.erase(0, 1);
    }
    if (field.empty() || field.front() == '$' || field.front() == '.' || field.back() == '.') {
      BadParam("sort", "must be a comma-separated list of field or -field");
    }
    // The filter language's rules for sort paths (components, white space) apply to the list form too.
    query::ParseSort(boost::json::object{{field, direction}});
    keys.push_back({field, direction});
    start = end + 1;
  }
  return keys;
}

std::int64_t ParseCount(std::string_view name, const std::string& text) {
  std::int64_t value = -1;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0) {
    BadParam(name, "must be a non-negative integer");
  }
  return value;
}

}  // namespace

std::string EscapeRegex(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (std::string_view("\\^$.|?*+()[]{}").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

std::vector<ParamDoc> PagingParams(bool with_sort) {
  std::vector<ParamDoc> docs{{"limit", "integer", "page size, default 50, max 1000"},
                             {"skip", "integer", "documents to skip, default 0"}};
  if (with_sort) docs.push_back({"sort", "string", "comma-separated fields, '-' for descending: -study_date,_id"});
  return docs;
}

std::vector<ParamDoc> ListParams(Kind kind) {
  std::vector<ParamDoc> docs;
  for (const ListParam& param : ParamTable(kind)) {
    const bool numeric = param.kind == P::kMin || param.kind == P::kMax;
    docs.push_back({std::string(param.name), numeric ? "number" : "string", std::string(param.description)});
  }
  if (kind == Kind::kSeries) docs.push_back({"q", "string", "free text over _search_text"});
  for (ParamDoc& doc : PagingParams(true)) docs.push_back(std::move(doc));
  return docs;
}

void ParsePaging(const Request& request, std::int64_t& skip, std::int64_t& limit) {
  skip = 0;
  limit = query::kDefaultLimit;
  if (auto value = request.Param("skip")) skip = ParseCount("skip", *value);
  if (auto value = request.Param("limit")) limit = ParseCount("limit", *value);
  if (limit > query::kMaxLimit) BadParam("limit", "must be at most " + std::to_string(query::kMaxLimit));
}

query::Query MakeQuery(const boost::json::object& filter) {
  query::Query query;
  if (!filter.empty()) query.filter = query::ParseFilter(filter);
  return query;
}

query::Query BuildListQuery(Kind kind, const Request& request, const boost::json::object& extra) {
  boost::json::array clauses;
  if (!extra.empty()) clauses.emplace_back(extra);
  const auto table = ParamTable(kind);
  std::string text;
  for (const auto& [name, value] : request.query) {
    if (name == "limit" || name == "skip" || name == "sort") continue;
    if (name == "q") {
      text = value;
      continue;
    }
    if (name.starts_with("metadata.")) {
      clauses.emplace_back(MetadataClause(name, value));
      continue;
    }
    for (const ListParam& param : table) {
      if (param.name == name) clauses.emplace_back(Clause(param, value));
    }
  }
  boost::json::object filter;
  if (clauses.size() == 1) filter = clauses.front().as_object();
  if (clauses.size() > 1) filter["$and"] = std::move(clauses);
  query::Query query = MakeQuery(filter);
  query.as_json_text = true;
  query.text = std::move(text);
  ParsePaging(request, query.skip, query.limit);
  if (auto sort = request.Param("sort")) query.sort = ParseSort(*sort);
  return query;
}

Response ListResponse(const FindResult& result, const query::Query& query) {
  // Stored documents are already JSON text (query.as_json_text): they are spliced into the body as they
  // are, which is most of what a list costs otherwise (parse, then serialise again).
  std::size_t size = 64;
  for (const std::string& doc : result.json_texts) size += doc.size() + 1;
  Response response;
  response.body.reserve(size);
  response.body += "{\"results\":[";
  bool first = true;
  auto append = [&](std::string_view text) {
    if (!first) response.body += ',';
    first = false;
    response.body += text;
  };
  for (const std::string& doc : result.json_texts) append(doc);
  for (const Document& doc : result.results) append(boost::json::serialize(doc));
  response.body += "],\"total\":" + std::to_string(result.total) + ",\"limit\":" + std::to_string(query.limit) +
                   ",\"skip\":" + std::to_string(query.skip) + "}";
  return response;
}

}  // namespace meta_db::db_api
