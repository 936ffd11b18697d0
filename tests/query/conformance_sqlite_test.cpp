// Runs every conformance case against a real SQLite store file (OpenStore + Insert + Find) and checks
// the answer, the order and the total against the expected ids and the reference matcher.
#include "case_runner.hpp"
#include "store/store.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <map>

namespace meta_db::query::testing {
namespace {

using meta_db::testing::TempDir;

// One store per distinct (collection, documents) set: cases of a file share their documents.
class Stores {
 public:
  Store& For(const Case& c, Kind kind) {
    std::string key = c.collection + "\n";
    for (const auto& d : c.documents) key += boost::json::serialize(d) + "\n";
    auto found = stores_.find(key);
    if (found != stores_.end()) return *found->second;
    auto store = OpenStore("sqlite:" + (dir_ / ("case" + std::to_string(stores_.size()) + ".db")).string());
    store->Write([&](Session& s) {
      for (const auto& d : c.documents) s.Insert(kind, d);
    });
    return *stores_.emplace(key, std::move(store)).first->second;
  }

 private:
  TempDir dir_;
  std::map<std::string, std::unique_ptr<Store>> stores_;
};

TEST(QueryConformanceSqlite, EveryCase) {
  const std::vector<Case> cases = LoadCases(META_DB_QUERY_CASES_DIR);
  ASSERT_GE(cases.size(), 150u);
  Stores stores;
  int passed = 0, run = 0;
  for (const Case& c : cases) {
    if (c.expect_error) continue;  // rejected by the shared parser before any back-end sees them
    SCOPED_TRACE(c.Label());
    ++run;
    const auto kind = ParseKind(c.collection);
    ASSERT_TRUE(kind.has_value());
    try {
      const Query q = ParseQueryRequest(c.request);
      FindResult found;
      stores.For(c, *kind).Read([&](Session& s) { found = s.Find(*kind, q); });
      Query unpaged = q;
      unpaged.skip = 0;
      unpaged.limit = 1 << 30;
      const auto reference_total = static_cast<std::int64_t>(ReferenceFind(c.documents, unpaged).size());
      const bool ok = c.expected_docs.is_null() ? Ids(found.results) == c.expected_ids
                                                : boost::json::value_from(found.results) == c.expected_docs;
      EXPECT_TRUE(ok) << "got " << boost::json::serialize(boost::json::value_from(Ids(found.results)));
      EXPECT_EQ(found.total, reference_total);
      if (ok && found.total == reference_total) ++passed;
    } catch (const Error& e) {
      ADD_FAILURE() << "unexpected error: " << e.what();
    }
  }
  std::cout << "sqlite conformance: " << passed << "/" << run << " cases passed\n";
}

}  // namespace
}  // namespace meta_db::query::testing
