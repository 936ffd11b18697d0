// GET /series/{id}/annotations: a series' LIDC marks with their physical nodules (pylidc's clusters) summarised —
// reader count, median ratings and median diameter per nodule (docs/annotations.md).
#include "annotations/lidc_read.hpp"
#include "db_api/api.hpp"
#include "db_api/listing.hpp"

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>
#include <map>
#include <set>

namespace meta_db::db_api {

namespace {

namespace json = boost::json;

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

// The physical nodules of the series, from its marks' cluster indices.
json::array NodulesOf(const std::vector<json::object>& marks) {
  struct Nodule {
    std::set<std::pair<std::string, std::int64_t>> readers;
    json::array ids;
    std::map<std::string, std::vector<double>> ratings;
    std::vector<double> diameters;
  };
  std::map<std::int64_t, Nodule> nodules;
  for (const json::object& mark : marks) {
    const auto* cluster = mark.if_contains("cluster");
    if (cluster == nullptr || !cluster->is_int64()) continue;
    Nodule& nodule = nodules[cluster->as_int64()];
    const auto* source = mark.if_contains("source_path");
    const auto* reader = mark.if_contains("reader");
    const auto* session = reader != nullptr && reader->is_object() ? reader->as_object().if_contains("session") : nullptr;
    nodule.readers.emplace(source != nullptr && source->is_string() ? std::string(source->as_string()) : "",
                           session != nullptr && session->is_int64() ? session->as_int64() : 0);
    nodule.ids.push_back(mark.at("_id"));
    if (const auto* ratings = mark.if_contains("ratings"); ratings != nullptr && ratings->is_object()) {
      for (const char* name : annotations::kRatingNames) {
        if (const auto* value = ratings->as_object().if_contains(name); value != nullptr && value->is_number()) {
          nodule.ratings[name].push_back(value->to_number<double>());
        }
      }
    }
    if (const auto* diameter = mark.if_contains("diameter_mm"); diameter != nullptr && diameter->is_number()) {
      nodule.diameters.push_back(diameter->to_number<double>());
    }
  }
  json::array out;
  for (auto& [cluster, nodule] : nodules) {
    json::object medians;
    for (const char* name : annotations::kRatingNames) {
      if (auto found = nodule.ratings.find(name); found != nodule.ratings.end()) medians[name] = Median(found->second);
    }
    json::object entry{{"cluster", cluster},
                       {"readers", static_cast<std::int64_t>(nodule.readers.size())},
                       {"annotation_ids", std::move(nodule.ids)},
                       {"median_ratings", std::move(medians)}};
    if (!nodule.diameters.empty()) entry["diameter_mm"] = Median(nodule.diameters);
    out.push_back(std::move(entry));
  }
  return out;
}

}  // namespace

Response SeriesAnnotations(ApiContext& ctx, const Request& request) {
  const ObjectId id = PathId(request);
  query::Query query = BuildListQuery(Kind::kAnnotations, request, {{"series_id", id.ToHex()}});
  query.as_json_text = false;
  if (query.sort.empty()) query.sort = {{"cluster", 1}, {"reader.session", 1}, {"_id", 1}};
  FindResult page;
  std::vector<json::object> all;
  ctx.store.Read([&](Session& session) {
    MustGet(session, Kind::kSeries, id);
    page = session.Find(Kind::kAnnotations, query);
    // The nodule table covers every mark of the series, whatever page was asked for.
    query::Query every = MakeQuery({{"series_id", id.ToHex()}});
    every.limit = 100000;
    every.count_total = false;
    every.projection = query::Projection{.include = true, .paths = {"cluster", "source_path", "reader", "ratings",
                                                                    "diameter_mm"}, .exclude_id = false};
    all = std::move(session.Find(Kind::kAnnotations, every).results);
  });
  json::array results;
  for (Document& doc : page.results) results.push_back(std::move(doc));
  return JsonResponse(200, json::object{{"results", std::move(results)},
                                        {"total", page.total},
                                        {"limit", query.limit},
                                        {"skip", query.skip},
                                        {"nodules", NodulesOf(all)}});
}

}  // namespace meta_db::db_api
