// Bugs the fuzzers and schemathesis found in the API, each a test named after what broke, run in process on the
// route table over a store of the back-end under test (SQLite, and MongoDB with META_DB_TEST_MONGO_URI).
#include "db_api/api.hpp"
#include "db_api/router.hpp"
#include "store/store.hpp"
#include "test_support.hpp"

#include "common/json_io.hpp"
#include "common/utf8.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace meta_db::db_api {
namespace {

class ApiFindings : public ::testing::Test {
 protected:
  void SetUp() override {
    META_DB_REQUIRE_TEST_BACKEND();
    db_ = std::make_unique<meta_db::testing::TestDatabase>("findings");
    store_ = OpenStore(db_->uri());
    ctx_ = std::make_unique<ApiContext>(*store_, "", "");
    router_ = std::make_unique<Router>(BuildRoutes(*ctx_));
  }

  Response Call(const std::string& method, const std::string& path, const std::string& body = "") {
    Request request;
    request.method = method;
    request.path = path;
    if (!body.empty()) request.headers["content-type"] = "application/json";
    request.body = body;
    return router_->Dispatch(request, nullptr);
  }

  std::unique_ptr<meta_db::testing::TestDatabase> db_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<ApiContext> ctx_;
  std::unique_ptr<Router> router_;
};

// The server crashed (a read of an empty optional): the id was stored as sent, and read back in lower case.
TEST_F(ApiFindings, CreateWithAnUpperCaseIdStoresTheCanonicalId) {
  const Response created = Call("POST", "/studies", R"({"_id":"C6727EF075A730EF1CC07DC8","study_instance_uid":"9.9"})");
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(ParseJson(created.body).at("_id"), "c6727ef075a730ef1cc07dc8");
  const Response got = Call("GET", "/studies/C6727EF075A730EF1CC07DC8");
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(ParseJson(got.body).at("study_instance_uid"), "9.9");
}

// schemathesis: /stats answered invalid UTF-8 — a study date starting with a digit was cut to its first four bytes
// as its "year", splitting a two-byte character.
TEST_F(ApiFindings, StatsNeverSplitsACharacterOfAStudyDate) {
  ASSERT_EQ(Call("POST", "/studies", R"({"study_instance_uid":"9.1","study_date":"1\u0094\u00c3x"})").status, 201);
  ASSERT_EQ(Call("POST", "/studies", R"({"study_instance_uid":"9.2","study_date":"20050307"})").status, 201);
  const Response stats = Call("GET", "/stats");
  ASSERT_EQ(stats.status, 200) << stats.body;
  EXPECT_TRUE(IsValidUtf8(stats.body));
  const auto parsed = ParseJson(stats.body);
  const auto& years = parsed.at("distributions").at("study_year").as_array();
  std::set<std::string> labels;
  for (const auto& entry : years) labels.emplace(entry.at("value").as_string());
  EXPECT_EQ(labels, (std::set<std::string>{"2005", "(other)"})) << stats.body;
}

// schemathesis on FerretDB: GET /series?sort= with a white-space component was a 500 ("path element must not
// contain spaces"); the list form of sort now follows the filter language's rules for sort paths (400).
TEST_F(ApiFindings, ListSortKeysFollowTheSortPathRules) {
  Request request;
  request.method = "GET";
  request.path = "/series";
  request.query = {{"sort", "\x0cSeriesNumber"}};
  const Response response = router_->Dispatch(request, nullptr);
  EXPECT_EQ(response.status, 400) << response.body;
  request.query = {{"sort", "-series_number,_id"}};
  EXPECT_EQ(router_->Dispatch(request, nullptr).status, 200);
}

// `meta_db check` found jobs naming a collection DELETE /collections/{id} had removed.
TEST_F(ApiFindings, DeletingACollectionClearsTheCollectionIdOfItsJobs) {
  const Response collection = Call("POST", "/collections", R"({"name":"cohort"})");
  ASSERT_EQ(collection.status, 201) << collection.body;
  const std::string collection_id(ParseJson(collection.body).at("_id").as_string());
  ASSERT_EQ(Call("POST", "/researchers", R"({"researcher_id":"r1","name":"R","email":"r@example.org"})").status, 201);
  const Response job = Call("POST", "/jobs", R"({"researcher_id":"r1","name":"j","accession_numbers":["A1"],)"
                                             R"("collection_id":")" + collection_id + R"("})");
  ASSERT_EQ(job.status, 202) << job.body;
  const std::string job_id(ParseJson(job.body).at("_id").as_string());
  ASSERT_EQ(Call("DELETE", "/collections/" + collection_id).status, 204);
  const Response after = Call("GET", "/jobs/" + job_id);
  ASSERT_EQ(after.status, 200) << after.body;
  EXPECT_FALSE(ParseJson(after.body).as_object().contains("collection_id")) << after.body;
}

// schemathesis on FerretDB: a field name with a NUL byte made libbson abort the server process.
TEST_F(ApiFindings, FieldNamesNoStoreCanKeepAreRejectedAtAnyDepth) {
  // schemathesis on FerretDB, too: an empty nested name was a 500 ("invalid document for insert: empty key").
  for (const char* body : {R"({"study_instance_uid":"9.8","a\u0000b":1})",
                           R"({"study_instance_uid":"9.8","metadata":{"Seq":[{"x\u0000":1}]}})",
                           R"({"study_instance_uid":"9.8","metadata":{"A":{"":1}}})",
                           R"({"study_instance_uid":"9.8","metadata":{".x":1}})",
                           R"({"study_instance_uid":"9.8","metadata":{"A":[{"$set":1}]}})"}) {
    const Response response = Call("POST", "/studies", body);
    EXPECT_EQ(response.status, 422) << body << " -> " << response.body;
  }
  const Response list = Call("GET", "/studies");
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(ParseJson(list.body).at("total"), 0) << list.body;
}

}  // namespace
}  // namespace meta_db::db_api
