// In-process checks of the pure parts: route matching and that /openapi.json is the route table.
#include "api_test_util.hpp"

#include "db_api/api.hpp"
#include "db_api/models.hpp"
#include "db_api/router.hpp"
#include "test_support.hpp"

#include <algorithm>
#include <cctype>

namespace meta_db::api_test {
namespace {

TEST(ApiRouter, PatternsMatchWholeSegments) {
  std::map<std::string, std::string> params;
  EXPECT_TRUE(db_api::MatchPattern("/studies/{id}", "/studies/abc", params));
  EXPECT_EQ(params["id"], "abc");
  EXPECT_FALSE(db_api::MatchPattern("/studies/{id}", "/studies", params));
  EXPECT_FALSE(db_api::MatchPattern("/studies/{id}", "/studies/abc/series", params));
  EXPECT_FALSE(db_api::MatchPattern("/studies", "/studies/", params));
}

TEST(ApiOpenApi, ServedDocumentListsEveryRouteOfTheTable) {
  testing::TempDir dir;
  auto store = OpenStore("sqlite:" + (dir / "unit.sqlite").string());
  db_api::ApiContext ctx(*store, "", "");
  const auto routes = db_api::BuildRoutes(ctx);
  const boost::json::object served = Client().Get("/openapi.json").Json().as_object();
  const auto& paths = served.at("paths").as_object();
  std::size_t operations = 0;
  for (const auto& [path, item] : paths) operations += item.as_object().size();
  EXPECT_EQ(operations, routes.size());
  for (const auto& route : routes) {
    std::string method = route.method;
    std::transform(method.begin(), method.end(), method.begin(), [](unsigned char c) { return std::tolower(c); });
    ASSERT_TRUE(paths.contains(route.pattern)) << route.pattern;
    const auto& operation = paths.at(route.pattern).as_object();
    ASSERT_TRUE(operation.contains(method)) << route.method << " " << route.pattern;
    // Every declared query parameter is documented.
    const auto& documented = operation.at(method).at("parameters").as_array();
    for (const auto& param : route.query) {
      EXPECT_TRUE(std::any_of(documented.begin(), documented.end(),
                              [&](const auto& p) { return p.at("name") == param.name.c_str(); }))
          << route.pattern << " ?" << param.name;
    }
  }
}

}  // namespace
}  // namespace meta_db::api_test

TEST(ApiSafeDefaults, EveryAnswerGetsTheHeadersAndApiAnswersNoStore) {
  using meta_db::db_api::Response;
  auto header = [](const Response& r, const std::string& name) {
    std::string found;
    int count = 0;
    for (const auto& [key, value] : r.headers) {
      if (key == name) {
        found = value;
        ++count;
      }
    }
    return std::make_pair(found, count);
  };
  Response api;
  meta_db::db_api::ApplySafeDefaults(api);
  EXPECT_EQ(header(api, "Cache-Control"), std::make_pair(std::string("no-store"), 1));
  EXPECT_EQ(header(api, "X-Content-Type-Options").first, "nosniff");
  EXPECT_EQ(header(api, "Referrer-Policy").first, "no-referrer");
  EXPECT_NE(header(api, "Content-Security-Policy").first.find("script-src 'self';"), std::string::npos);
  EXPECT_EQ(header(api, "Content-Security-Policy").first.find("unsafe-eval"), std::string::npos);
  Response asset;
  asset.headers.emplace_back("cache-control", "public, max-age=3600");  // any case: the asset's own policy stays
  meta_db::db_api::ApplySafeDefaults(asset);
  EXPECT_EQ(header(asset, "Cache-Control").second, 0);
  EXPECT_EQ(header(asset, "cache-control").first, "public, max-age=3600");
}
