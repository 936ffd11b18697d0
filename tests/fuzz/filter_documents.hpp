// Documents the filter targets match against: hostile type mixes (numbers of both kinds, strings that look like
// numbers, booleans, null, arrays, nested objects and sequences) at promoted and metadata paths, drawn once from a
// fixed seed so every run and every replay sees the same catalogue.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <random>
#include <string>
#include <vector>

namespace meta_db::fuzz {

inline std::vector<boost::json::object> FilterDocuments() {
  namespace json = boost::json;
  const std::vector<json::value> pool{
      "CT", "MR", "ct", "", "1", "1.0", "[x]", "B30f", json::array{"CT", "PT"}, json::array{}, json::array{1, 3},
      true, false, 0, 1, 2, -1, 1.0, 2.5, 1e300, nullptr, json::object{{"a", 1}},
      json::array{json::object{{"a", 1}}, json::object{{"b", "x"}}}};
  std::mt19937 rng(12);
  const auto pick = [&]() { return pool[rng() % pool.size()]; };
  std::vector<json::object> docs;
  for (int i = 1; i <= 40; ++i) {
    std::string id = std::to_string(i);
    json::object doc{{"_id", std::string(24 - id.size(), '0') + id}};
    for (const char* key : {"modality", "series_number", "series_description", "study_id"}) {
      if (rng() % 4 != 0) doc[key] = pick();
    }
    json::object metadata;
    for (const char* key : {"SliceThickness", "Manufacturer", "ConvolutionKernel", "Rows"}) {
      if (rng() % 4 != 0) metadata[key] = pick();
    }
    if (rng() % 3 == 0) metadata["Seq"] = json::array{json::object{{"a", pick()}}, json::object{{"b", pick()}}};
    if (rng() % 6 != 0) doc["metadata"] = std::move(metadata);
    docs.push_back(std::move(doc));
  }
  return docs;
}

}  // namespace meta_db::fuzz
