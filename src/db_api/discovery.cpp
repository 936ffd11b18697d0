// POST /query, the dashboard's discovery endpoints (/fields, /stats), the error register and /health.
#include "db_api/api.hpp"
#include "db_api/listing.hpp"

#include "common/error.hpp"

#include <boost/json/array.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <set>

namespace meta_db::db_api {

namespace {

constexpr std::int64_t kScanPage = 1000;
constexpr std::int64_t kFieldsSample = 20000;      // documents scanned per /fields answer
constexpr std::size_t kDistinctTracked = 1000;    // distinct values counted per field (memory bound)
constexpr std::chrono::seconds kCacheAge{30};     // covers ingest running in another process
constexpr std::int64_t kNoLimit = std::numeric_limits<std::int64_t>::max();

// Calls fn on every document of `kind` (at most `max_docs`) matching nothing in particular, page by page.
std::int64_t Scan(Session& session, Kind kind, std::optional<query::Projection> projection, std::int64_t max_docs,
                  const std::function<void(const Document&)>& fn) {
  query::Query query;
  query.projection = std::move(projection);
  query.count_total = false;
  query.limit = kScanPage;  // natural order: sorting a large collection per page would cost more than the scan
  std::int64_t seen = 0;
  for (query.skip = 0; seen < max_docs; query.skip += kScanPage) {
    FindResult page = session.Find(kind, query);
    for (const Document& doc : page.results) fn(doc);
    seen += static_cast<std::int64_t>(page.results.size());
    if (static_cast<std::int64_t>(page.results.size()) < kScanPage) break;
  }
  return seen;
}

std::string TypeName(const boost::json::value& value) {
  switch (value.kind()) {
    case boost::json::kind::null: return "null";
    case boost::json::kind::bool_: return "boolean";
    case boost::json::kind::int64:
    case boost::json::kind::uint64: return "integer";
    case boost::json::kind::double_: return "number";
    case boost::json::kind::string: return "string";
    case boost::json::kind::array: return "array";
    case boost::json::kind::object: return "object";
  }
  return "unknown";
}

struct FieldStats {
  std::int64_t count = 0;
  std::set<std::string> types;
  std::map<std::string, std::pair<boost::json::value, std::int64_t>> values;  // serialised value -> (value, n)
};

void Observe(FieldStats& stats, const boost::json::value& value) {
  ++stats.count;
  stats.types.insert(TypeName(value));
  if (value.is_array() || value.is_object()) return;
  const std::string key = boost::json::serialize(value);
  auto it = stats.values.find(key);
  if (it != stats.values.end()) {
    ++it->second.second;
  } else if (stats.values.size() < kDistinctTracked) {
    stats.values.emplace(key, std::make_pair(value, 1));
  }
}

boost::json::array TopValues(const FieldStats& stats, std::size_t n) {
  std::vector<const std::pair<boost::json::value, std::int64_t>*> all;
  for (const auto& [key, entry] : stats.values) all.push_back(&entry);
  std::stable_sort(all.begin(), all.end(), [](auto* a, auto* b) { return a->second > b->second; });
  boost::json::array out;
  for (std::size_t i = 0; i < std::min(n, all.size()); ++i) {
    out.push_back(boost::json::object{{"value", all[i]->first}, {"count", all[i]->second}});
  }
  return out;
}

// The fields of a derived object (series.qc, series.annotations) by dotted path, nested objects included; the
// elements of its arrays of scalars are counted as values (qc.flags: how many series carry each flag).
void ObserveNested(std::map<std::string, FieldStats>& fields, const std::string& prefix, const Document& object,
                   int depth) {
  for (const auto& [key, value] : object) {
    const std::string path = prefix + "." + std::string(key);
    FieldStats& stats = fields[path];
    Observe(stats, value);
    if (value.is_object() && depth < 3) ObserveNested(fields, path, value.as_object(), depth + 1);
    if (value.is_array()) {
      for (const auto& element : value.as_array()) {
        if (element.is_array() || element.is_object()) continue;
        const std::string text = boost::json::serialize(element);
        auto it = stats.values.find(text);
        if (it != stats.values.end()) {
          ++it->second.second;
        } else if (stats.values.size() < kDistinctTracked) {
          stats.values.emplace(text, std::make_pair(element, 1));
        }
      }
    }
  }
}

}  // namespace

boost::json::object FieldCensus(Session& session, Kind kind, std::size_t top_values) {
  std::map<std::string, FieldStats> fields;
  const std::int64_t sampled = Scan(session, kind, std::nullopt, kFieldsSample, [&](const Document& doc) {
    for (const auto& [key, value] : doc) {
      // metadata.* and the LIDC objects (series' annotations summary, annotations' ratings and reader) one level in.
      if ((key == "metadata" || key == "annotations" || key == "ratings" || key == "reader") && value.is_object()) {
        for (const auto& [meta_key, meta_value] : value.as_object()) {
          Observe(fields[std::string(key) + "." + std::string(meta_key)], meta_value);
        }
      } else if (value.is_object()) {
        ObserveNested(fields, std::string(key), value.as_object(), 1);
      }
      Observe(fields[std::string(key)], value);
    }
  });
  boost::json::array list;
  for (const auto& [path, stats] : fields) {
    boost::json::array types;
    for (const auto& type : stats.types) types.emplace_back(type);
    list.push_back(boost::json::object{{"path", path},
                                       {"promoted", FindIndexedField(kind, path) != nullptr},
                                       {"count", stats.count},
                                       {"types", std::move(types)},
                                       {"values", TopValues(stats, top_values)}});
  }
  query::Query count;
  count.limit = 0;
  const std::int64_t total = session.Find(kind, count).total;
  return {{"collection", CollectionName(kind)}, {"total", total}, {"sampled", sampled}, {"fields", std::move(list)}};
}

namespace {

using Histogram = std::map<std::string, std::int64_t>;

boost::json::array HistogramJson(const Histogram& histogram) {
  std::vector<std::pair<std::string, std::int64_t>> sorted(histogram.begin(), histogram.end());
  std::stable_sort(sorted.begin(), sorted.end(), [](auto& a, auto& b) { return a.second > b.second; });
  boost::json::array out;
  for (auto& [value, count] : sorted) out.push_back(boost::json::object{{"value", value}, {"count", count}});
  return out;
}

std::string Text(const Document& doc, std::string_view path) {
  const boost::json::value* value = nullptr;
  if (path.starts_with("metadata.")) {
    if (const auto* meta = doc.if_contains("metadata"); meta != nullptr && meta->is_object()) {
      value = meta->as_object().if_contains(path.substr(9));
    }
  } else if (const auto dot = path.find('.'); dot != std::string_view::npos) {  // one nested object: qc.kernel_class
    if (const auto* parent = doc.if_contains(path.substr(0, dot)); parent != nullptr && parent->is_object()) {
      value = parent->as_object().if_contains(path.substr(dot + 1));
    }
  } else {
    value = doc.if_contains(path);
  }
  if (value == nullptr || value->is_null()) return "(missing)";
  if (value->is_string()) return std::string(value->as_string());
  if (value->is_array() && !value->as_array().empty() && value->as_array().front().is_string()) {
    return std::string(value->as_array().front().as_string());  // multi-valued: the first value
  }
  return boost::json::serialize(*value);
}

// Series per QC flag ("(none)": a clean series; "(missing)": no qc yet, e.g. a catalogue older than it).
void QcFlagsInto(Histogram& histogram, const Document& doc) {
  const auto* qc = doc.if_contains("qc");
  const auto* flags = qc != nullptr && qc->is_object() ? qc->as_object().if_contains("flags") : nullptr;
  if (flags == nullptr || !flags->is_array()) {
    ++histogram["(missing)"];
    return;
  }
  if (flags->as_array().empty()) ++histogram["(none)"];
  for (const auto& flag : flags->as_array()) {
    if (flag.is_string()) ++histogram[std::string(flag.as_string())];
  }
}

std::string ThicknessBucket(const Document& doc) {
  const auto* meta = doc.if_contains("metadata");
  const auto* value = meta != nullptr && meta->is_object() ? meta->as_object().if_contains("SliceThickness") : nullptr;
  if (value == nullptr || !value->is_number()) return "(missing)";
  const double mm = value->to_number<double>();
  if (mm < 1) return "<1";
  if (mm < 2) return "1-2";
  if (mm < 3) return "2-3";
  if (mm < 5) return "3-5";
  return ">=5";
}

std::string InstancesBucket(const Document& doc) {
  const auto* value = doc.if_contains("num_instances");
  const std::int64_t n = value != nullptr && value->is_number() ? value->to_number<std::int64_t>() : 0;
  if (n <= 1) return n == 0 ? "0" : "1";
  if (n <= 10) return "2-10";
  if (n <= 50) return "11-50";
  if (n <= 100) return "51-100";
  if (n <= 200) return "101-200";
  if (n <= 500) return "201-500";
  return ">500";
}

boost::json::object ComputeStats(Session& session) {
  const StoreCounts counts = session.Counts();
  std::map<std::string, Histogram> dist;
  const query::Projection series_fields{
      true, {"modality", "num_instances", "metadata.Manufacturer", "metadata.ManufacturerModelName",
             "metadata.BodyPartExamined", "metadata.ConvolutionKernel", "metadata.SliceThickness", "annotations",
             "qc.kernel_class", "qc.flags"}};
  std::int64_t annotated_series = 0, series_with_nodules = 0, nodules = 0;
  Scan(session, Kind::kSeries, series_fields, kNoLimit, [&](const Document& doc) {
    ++dist["modality"][Text(doc, "modality")];
    ++dist["manufacturer"][Text(doc, "metadata.Manufacturer")];
    ++dist["manufacturer_model_name"][Text(doc, "metadata.ManufacturerModelName")];
    ++dist["body_part_examined"][Text(doc, "metadata.BodyPartExamined")];
    ++dist["convolution_kernel"][Text(doc, "metadata.ConvolutionKernel")];
    ++dist["slice_thickness"][ThicknessBucket(doc)];
    ++dist["instances_per_series"][InstancesBucket(doc)];
    // The LIDC annotation summary (docs/annotations.md): series without a known read are left out.
    if (const auto* summary = doc.if_contains("annotations"); summary != nullptr && summary->is_object()) {
      const auto& a = summary->as_object();
      const auto number = [&](std::string_view key) -> std::int64_t {
        const auto* v = a.if_contains(key);
        return v != nullptr && v->is_number() ? v->to_number<std::int64_t>() : 0;
      };
      ++annotated_series;
      nodules += number("nodules");
      if (number("nodules") > 0) ++series_with_nodules;
      const std::int64_t n = number("nodules");
      ++dist["nodules_per_series"][n >= 5 ? std::string(">=5") : std::to_string(n)];
      ++dist["readers_per_series"][std::to_string(number("readers"))];
      if (a.contains("max_malignancy")) ++dist["max_malignancy"][std::to_string(number("max_malignancy"))];
      if (const auto* d = a.if_contains("max_diameter_mm"); d != nullptr && d->is_number()) {
        const double mm = d->to_number<double>();
        ++dist["max_nodule_diameter_mm"][mm < 6 ? "3-6" : mm < 10 ? "6-10" : mm < 20 ? "10-20" : mm < 30 ? "20-30" : ">=30"];
      }
    }
    ++dist["qc_kernel_class"][Text(doc, "qc.kernel_class")];
    QcFlagsInto(dist["qc_flags"], doc);
  });
  Scan(session, Kind::kStudies, query::Projection{true, {"study_date"}}, kNoLimit, [&](const Document& doc) {
    const std::string date = Text(doc, "study_date");
    // A year is four ASCII digits; cutting any other text at four bytes could split a UTF-8 character.
    const bool has_year = date.size() >= 4 && std::all_of(date.begin(), date.begin() + 4, [](unsigned char c) {
                            return std::isdigit(c) != 0;
                          });
    ++dist["study_year"][has_year ? date.substr(0, 4) : date.empty() ? "(missing)" : "(other)"];
  });
  boost::json::object distributions;
  for (const auto& [name, histogram] : dist) distributions[name] = HistogramJson(histogram);
  return {{"counts",
           {{"researchers", counts.researchers},
            {"collections", counts.collections},
            {"studies", counts.studies},
            {"series", counts.series},
            {"instances", counts.instances},
            {"jobs", counts.jobs},
            {"annotations", session.Count(Kind::kAnnotations)},
            {"errors", counts.errors}}},
          {"annotations",
           {{"annotated_series", annotated_series}, {"series_with_nodules", series_with_nodules}, {"nodules", nodules}}},
          {"distributions", std::move(distributions)}};
}

Response Cached(ApiContext& ctx, const std::string& key, const std::function<boost::json::object(Session&)>& fn) {
  return JsonResponse(200, CachedObject(ctx, key, fn));
}

}  // namespace

boost::json::object CachedObject(ApiContext& ctx, const std::string& key,
                                 const std::function<boost::json::object(Session&)>& fn) {
  const std::uint64_t generation = ctx.generation.load(std::memory_order_relaxed);
  if (auto hit = ctx.cache.Get(key, generation, kCacheAge)) return std::move(*hit);
  boost::json::object value;
  ctx.store.Read([&](Session& session) { value = fn(session); });
  ctx.cache.Put(key, generation, value);
  return value;
}

std::optional<boost::json::object> DiscoveryCache::Get(const std::string& key, std::uint64_t generation,
                                                       std::chrono::seconds max_age) {
  std::lock_guard lock(mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.generation != generation ||
      std::chrono::steady_clock::now() - it->second.at > max_age) {
    return std::nullopt;
  }
  return it->second.value;
}

void DiscoveryCache::Put(const std::string& key, std::uint64_t generation, boost::json::object value) {
  std::lock_guard lock(mutex_);
  entries_[key] = Entry{generation, std::chrono::steady_clock::now(), std::move(value)};
}

Response Health(ApiContext& ctx, const Request&) {
  const std::string reason = ctx.store_unreachable ? ctx.store_unreachable() : ctx.store.Unreachable();
  if (!reason.empty()) {
    return JsonResponse(503, boost::json::object{{"status", "unavailable"},
                                                 {"db", ctx.store.Backend()},
                                                 {"reason", reason},
                                                 {"version", kVersion}});
  }
  return JsonResponse(200, boost::json::object{{"status", "ok"}, {"db", ctx.store.Backend()}, {"version", kVersion}});
}

Response PostQuery(ApiContext& ctx, const Request& request) {
  boost::json::object body = BodyObject(request);
  const auto* collection = body.if_contains("collection");
  if (collection == nullptr || !collection->is_string()) {
    throw Error(Errc::kBadRequest, "'collection' (string) is required", boost::json::object{{"field", "collection"}});
  }
  const auto kind = ParseKind(collection->as_string());
  if (!kind) {
    throw Error(Errc::kBadRequest, "unknown collection '" + std::string(collection->as_string()) + "'",
                boost::json::object{{"field", "collection"}});
  }
  query::Query query = query::ParseQueryRequest(body);
  query.as_json_text = true;
  FindResult result;
  ctx.store.Read([&](Session& session) { result = session.Find(*kind, query); });
  return ListResponse(result, query);
}

Response FieldsOf(ApiContext& ctx, const Request& request) {
  const std::string name = request.Param("collection").value_or("series");
  const auto kind = ParseKind(name);
  if (!kind) {
    throw Error(Errc::kBadRequest, "unknown collection '" + name + "'", boost::json::object{{"parameter", "collection"}});
  }
  return Cached(ctx, "fields:" + name, [&](Session& session) { return FieldCensus(session, *kind, 10); });
}

Response Stats(ApiContext& ctx, const Request&) {
  return Cached(ctx, "stats", [](Session& session) { return ComputeStats(session); });
}

Response ErrorsList(ApiContext& ctx, const Request& request) {
  std::int64_t skip = 0, limit = 0;
  ParsePaging(request, skip, limit);
  boost::json::array results;
  std::int64_t total = 0;
  ctx.store.Read([&](Session& session) {
    for (const ErrorRecord& record : session.Errors(skip, limit)) {
      results.push_back(boost::json::object{{"path", record.path},
                                             {"reason", record.reason},
                                             {"first_seen", record.first_seen},
                                             {"last_seen", record.last_seen}});
    }
    total = session.Counts().errors;
  });
  return JsonResponse(200, boost::json::object{
                               {"results", std::move(results)}, {"total", total}, {"limit", limit}, {"skip", skip}});
}

}  // namespace meta_db::db_api
