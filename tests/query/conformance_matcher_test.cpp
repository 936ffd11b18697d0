// Runs every conformance case on the in-memory reference matcher (+ CompareForSort + paging).
#include "case_runner.hpp"

#include <gtest/gtest.h>

namespace meta_db::query::testing {
namespace {

TEST(QueryConformanceMatcher, EveryCase) {
  const std::vector<Case> cases = LoadCases(META_DB_QUERY_CASES_DIR);
  ASSERT_GE(cases.size(), 150u);
  int passed = 0;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.Label());
    if (c.expect_error) {
      EXPECT_THROW(ParseQueryRequest(c.request), Error);
      try {
        ParseQueryRequest(c.request);
      } catch (const Error& e) {
        EXPECT_EQ(e.code(), Errc::kBadRequest);
        ++passed;
      }
      continue;
    }
    try {
      const Query q = ParseQueryRequest(c.request);
      const auto page = ReferenceFind(c.documents, q);
      const bool ok = c.expected_docs.is_null() ? Ids(page) == c.expected_ids
                                                : boost::json::value_from(page) == c.expected_docs;
      EXPECT_TRUE(ok) << "got " << boost::json::serialize(boost::json::value_from(Ids(page)))
                      << (c.expected_docs.is_null() ? "" : " docs " + boost::json::serialize(boost::json::value_from(page)));
      if (ok) ++passed;
    } catch (const Error& e) {
      ADD_FAILURE() << "unexpected error: " << e.what();
    }
  }
  std::cout << "matcher conformance: " << passed << "/" << cases.size() << " cases passed\n";
}

}  // namespace
}  // namespace meta_db::query::testing
