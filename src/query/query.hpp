// The public face of the filter language: a parsed query (filter tree, sort, paging, projection).
// Owned by the query module; the tree itself is defined in filter_tree.hpp.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
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
  bool exclude_id = false;  // {"_id": 0} given (include lists keep _id otherwise)
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
  // The caller wants the documents as JSON text (FindResult::json_texts) rather than objects: a back-end that
  // keeps JSON text (SQLite) then hands it over without parsing and re-serialising it.
  bool as_json_text = false;
};

// Parses and validates a filter (a JSON object). Throws Error(kBadRequest) naming the offending path
// (details {"path": ...}) for unknown or forbidden operators, bad field names and exceeded limits.
std::shared_ptr<const Filter> ParseFilter(const boost::json::value& filter);

// Parses the POST /query body: {"collection", "query"|"filter", "sort", "skip", "limit", "projection",
// "q"}. "collection" is left to the caller. Throws Error(kBadRequest) on unknown keys or bad values.
Query ParseQueryRequest(const boost::json::object& body);
// Sort specs: {"f": 1, "g": -1}, [["f", 1], ["g", -1]] or "f,-g".
std::vector<SortKey> ParseSort(const boost::json::value& sort);
// {"a": 1, "b": 1} (include) or {"a": 0} (exclude); "_id" may be excluded in either form.
Projection ParseProjection(const boost::json::value& projection);

// The in-memory reference matcher: MongoDB's semantics, the definition every back-end must meet.
bool Matches(const Filter& filter, const boost::json::object& doc);

// MongoDB's ordering of values: missing = null < numbers < strings < objects < arrays < booleans.
// Numbers compare numerically across int/double; strings bytewise (UTF-8 code point order).
int CompareForSort(const boost::json::value* a, const boost::json::value* b);
// The value a document sorts by on one key: for arrays the smallest element ascending, the largest
// descending (MongoDB); nullptr when missing or null.
const boost::json::value* SortValue(const boost::json::object& doc, const SortKey& key);
// Orders two documents by the sort keys; 0 when tied (callers then keep natural order).
int CompareDocuments(const boost::json::object& a, const boost::json::object& b, const std::vector<SortKey>& sort);

// Applies an include/exclude projection (dotted paths descend into objects and arrays of objects).
boost::json::object Project(const boost::json::object& doc, const Projection& projection);

// DICOM conveniences for the list endpoints (compiled into the same tree by the API):
// DA value "YYYYMMDD" or "YYYY-MM-DD" -> "YYYY-MM-DD" (the stored form); anything else Error(kBadRequest).
std::string NormalizeDicomDate(std::string_view date);
// DICOM-style wildcards (PS3.4 C.2.2.2.4): '*' any run, '?' one character, everything else literal;
// returns an anchored $regex pattern.
std::string WildcardToRegex(std::string_view wildcard);

}  // namespace meta_db::query
