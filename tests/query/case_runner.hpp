// Loads the conformance cases (tests/query/cases/*.json) and runs them on the reference matcher.
// A file holds one case, an array of cases, or {"documents": [...], "collection": ..., "cases": [...]}
// whose documents/collection every case inherits unless it gives its own.
#pragma once

#include "common/error.hpp"
#include "common/json_io.hpp"
#include "query/filter_tree.hpp"
#include "query/query.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace meta_db::query::testing {

struct Case {
  std::string file;
  std::string name;
  std::string collection = "series";
  std::vector<boost::json::object> documents;
  boost::json::object request;  // the POST /query body: filter, sort, skip, limit, projection
  std::vector<std::string> expected_ids;
  bool expect_error = false;
  boost::json::value expected_docs;  // optional: full expected results (projection cases)
  std::string Label() const { return file + ": " + name; }
};

// Short ids ("7") become 24-hex ObjectIds so documents fit the store; 24-hex ids pass unchanged.
inline std::string FullId(std::string_view id) {
  if (id.size() == 24) return std::string(id);
  return std::string(24 - std::min<std::size_t>(id.size(), 24), '0') + std::string(id);
}

inline void FixIds(boost::json::value& v) {
  if (auto* o = v.if_object()) {
    if (auto* id = o->if_contains("_id"); id != nullptr && id->is_string()) *id = FullId(id->as_string());
  }
}

inline Case ParseCase(const boost::json::object& c, const std::string& file, const boost::json::object& defaults) {
  Case out;
  out.file = file;
  out.name = boost::json::value_to<std::string>(c.at("name"));
  const auto* coll = c.if_contains("collection") ? c.if_contains("collection") : defaults.if_contains("collection");
  if (coll != nullptr) out.collection = boost::json::value_to<std::string>(*coll);
  const auto* docs = c.if_contains("documents") ? c.if_contains("documents") : defaults.if_contains("documents");
  if (docs != nullptr) {
    for (auto d : docs->as_array()) {
      FixIds(d);
      out.documents.push_back(d.as_object());
    }
  }
  for (const char* key : {"filter", "sort", "skip", "limit", "projection"}) {
    if (const auto* v = c.if_contains(key)) out.request[key] = *v;
  }
  if (const auto* extra = c.if_contains("request")) {  // extra request keys (e.g. unknown ones to reject)
    for (const auto& kv : extra->as_object()) out.request[kv.key()] = kv.value();
  }
  if (const auto* ids = c.if_contains("expected_ids")) {
    for (const auto& id : ids->as_array()) out.expected_ids.push_back(FullId(id.as_string()));
  }
  if (const auto* e = c.if_contains("error")) out.expect_error = e->as_bool();
  if (const auto* e = c.if_contains("expected")) {
    out.expected_docs = *e;
    for (auto& d : out.expected_docs.as_array()) FixIds(d);
  }
  return out;
}

inline std::vector<Case> LoadCases(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  std::vector<Case> cases;
  for (const auto& path : files) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    boost::json::parse_options deep;
    deep.max_depth = 1000;  // some cases are deliberately deeper than the filter limit
    const boost::json::value root = boost::json::parse(text.str(), {}, deep);
    const std::string file = path.filename().string();
    const boost::json::object empty;
    if (root.is_array()) {
      for (const auto& c : root.as_array()) cases.push_back(ParseCase(c.as_object(), file, empty));
    } else if (const auto* list = root.as_object().if_contains("cases")) {
      for (const auto& c : list->as_array()) cases.push_back(ParseCase(c.as_object(), file, root.as_object()));
    } else {
      cases.push_back(ParseCase(root.as_object(), file, empty));
    }
  }
  return cases;
}

// The reference answer: filter with Matches, stable sort by CompareDocuments over natural order, page.
inline std::vector<boost::json::object> ReferenceFind(const std::vector<boost::json::object>& docs, const Query& q) {
  std::vector<boost::json::object> matched;
  for (const auto& d : docs) {
    if (!q.filter || Matches(*q.filter, d)) matched.push_back(d);
  }
  std::stable_sort(matched.begin(), matched.end(), [&q](const auto& a, const auto& b) {
    return CompareDocuments(a, b, q.sort) < 0;
  });
  std::vector<boost::json::object> page;
  for (std::int64_t i = q.skip; i < static_cast<std::int64_t>(matched.size()) && i - q.skip < q.limit; ++i) {
    const auto& d = matched[static_cast<std::size_t>(i)];
    page.push_back(q.projection ? Project(d, *q.projection) : d);
  }
  return page;
}

inline std::vector<std::string> Ids(const std::vector<boost::json::object>& docs) {
  std::vector<std::string> ids;
  for (const auto& d : docs) {
    const auto* id = d.if_contains("_id");
    ids.push_back(id != nullptr && id->is_string() ? std::string(id->as_string()) : std::string("?"));
  }
  return ids;
}

}  // namespace meta_db::query::testing
