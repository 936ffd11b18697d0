// The public face of the filter language: a parsed query (filter tree, sort, paging, projection).
// Owned by the query module; the tree itself is defined in filter_tree.hpp.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace meta_db::query {

struct Filter;  // parsed, validated filter tree (filter_tree.hpp)

struct SortKey {
  std::string path;   // dotted document path
  int direction = 1;  // 1 ascending, -1 descending
};

struct Projection {
  bool include = true;  // true: keep only `paths` (and _id); false: drop `paths`
  std::vector<std::string> paths;
};

inline constexpr std::int64_t kDefaultLimit = 50;
inline constexpr std::int64_t kMaxLimit = 1000;

struct Query {
  std::shared_ptr<const Filter> filter;  // nullptr matches every document
  std::vector<SortKey> sort;             // empty: natural (_id) order
  std::optional<Projection> projection;
  std::int64_t skip = 0;
  std::int64_t limit = kDefaultLimit;
  std::string text;  // free text over _search_text (the `q=` parameter); empty for none
  bool count_total = true;
};

}  // namespace meta_db::query
