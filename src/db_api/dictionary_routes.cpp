// GET /dictionary?keywords=a,b: DICOM tag number, VR and name of stored metadata keys (the dashboard's details drawer).
#include "common/error.hpp"
#include "db_api/api.hpp"

#include <algorithm>
#include <cctype>
#include <string>
#include <string_view>
#include <vector>

namespace meta_db::db_api {
namespace {

constexpr std::size_t kMaxKeywords = 1000;

std::string_view StripPrefix(std::string_view key) {
  return key.starts_with("metadata.") ? key.substr(9) : key;
}

bool IsHex4(std::string_view s) {
  return s.size() == 4 && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isxdigit(c) != 0; });
}

Response Dictionary(ApiContext& ctx, const Request& request) {
  std::vector<std::string_view> tokens;
  const std::string list = request.Param("keywords").value_or("");
  for (std::size_t start = 0; start <= list.size();) {
    std::size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    tokens.emplace_back(list.data() + start, comma - start);
    start = comma + 1;
  }
  boost::json::object out;
  std::size_t keys = 0;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    std::string key(tokens[i]);
    // A private tag is stored as "gggg,eeee": its comma is not a separator.
    if (i + 1 < tokens.size() && IsHex4(StripPrefix(tokens[i])) && IsHex4(tokens[i + 1])) {
      key += "," + std::string(tokens[++i]);
    }
    const std::string_view keyword = StripPrefix(key);
    if (keyword.empty()) continue;
    if (++keys > kMaxKeywords) {
      throw Error(Errc::kBadRequest, "at most 1000 keywords per request",
                  boost::json::object{{"parameter", "keywords"}});
    }
    // Without a dictionary plugged in (route-table tests and fuzzers) no keyword is known: the answer is {}.
    if (!ctx.dictionary) continue;
    if (auto entry = ctx.dictionary(keyword)) {
      out[keyword] = boost::json::object{{"tag", entry->tag}, {"vr", entry->vr}, {"name", entry->name}};
    }
  }
  return JsonResponse(200, out);
}

}  // namespace

void AddDictionaryRoutes(std::vector<Route>& routes, ApiContext& ctx) {
  routes.push_back({"GET", "/dictionary", "discovery",
                    "DICOM data dictionary: tag (gggg,eeee), VR and name of each keyword (unknown keywords are left "
                    "out)",
                    {{"keywords", "string", "comma-separated DICOM keywords or metadata keys (metadata.<Keyword>, "
                                            "gggg,eeee for private tags), at most 1000"}},
                    false, "", "Dictionary", 200, "application/json",
                    [&ctx](const Request& request) { return Dictionary(ctx, request); }});
}

}  // namespace meta_db::db_api
