// Unit tests of the query module: regex engine, parser errors naming paths, DICOM helpers, sort order.
#include "common/error.hpp"
#include "query/filter_tree.hpp"
#include "query/query.hpp"
#include "query/regex.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace meta_db::query {
namespace {

namespace json = boost::json;

TEST(Regex, LinearTimeOnPathologicalInput) {
  // (a|aa)... would be rejected; this classic one is fine for a Thompson NFA and must stay fast.
  const Regex re = Regex::Compile("^(a?){25}a{25}$", "");
  EXPECT_TRUE(re.Search(std::string(25, 'a')));
  const std::string long_text(200000, 'x');
  EXPECT_FALSE(Regex::Compile("x*y", "").Search(long_text));  // no recursion over the input
  EXPECT_TRUE(Regex::Compile("x$", "").Search(long_text));
}

TEST(Regex, SubsetSemantics) {
  EXPECT_TRUE(Regex::Compile("b30F", "i").Search("B30f"));
  EXPECT_TRUE(Regex::Compile("^a.c$", "").Search("a\xC3\xA9" "c"));
  EXPECT_FALSE(Regex::Compile("^a..c$", "").Search("a\xC3\xA9" "c"));
  EXPECT_TRUE(Regex::Compile("end$", "").Search("the end\n"));
  EXPECT_TRUE(Regex::Compile("[^a-z]", "").Search("abc\xC3\xA9"));
  EXPECT_TRUE(Regex::Compile("\\W", "").Search("\xC3\xA9"));
  EXPECT_TRUE(Regex::Compile("^\\d{4}-\\d{2}$", "").Search("2020-01"));
  EXPECT_TRUE(Regex::Compile("a{2,}", "").Search("caab"));
  EXPECT_FALSE(Regex::Compile("a{3,4}", "").Search("caab"));
}

TEST(Regex, RejectsDangerousOrUnsupported) {
  for (const char* p : {"(a+)+", "(a*)*", "(a|a)*", "(x+x+)+y", "(a)\\1", "(?=a)", "(?i)a", "\\p{L}", "a**",
                        "[\\D]", "x{2000}", "(((((a{1000}){1000})))"}) {
    EXPECT_THROW(Regex::Compile(p, ""), Error) << p;
  }
  EXPECT_THROW(Regex::Compile(std::string(1001, 'a'), ""), Error);
}

TEST(Parser, ErrorNamesPath) {
  try {
    ParseFilter(json::parse(R"({"metadata.Rows": {"$where": "1"}})"));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kBadRequest);
    EXPECT_NE(std::string(e.what()).find("metadata.Rows"), std::string::npos);
    EXPECT_EQ(e.details().at("path"), "metadata.Rows");
  }
}

TEST(Parser, QueryRequestDefaults) {
  const Query q = ParseQueryRequest(json::parse(R"({"collection": "series", "query": {"modality": "CT"}})").as_object());
  EXPECT_EQ(q.limit, kDefaultLimit);
  EXPECT_EQ(q.skip, 0);
  ASSERT_TRUE(q.filter);
  EXPECT_EQ(q.filter->op, Op::kEq);
  const Query all = ParseQueryRequest(json::object{});
  EXPECT_EQ(all.filter, nullptr);
  EXPECT_THROW(ParseQueryRequest(json::parse(R"({"query": {}, "filter": {}})").as_object()), Error);
}

TEST(Dicom, NormalizeDate) {
  EXPECT_EQ(NormalizeDicomDate("20200131"), "2020-01-31");
  EXPECT_EQ(NormalizeDicomDate("2020-01-31"), "2020-01-31");
  for (const char* bad : {"2020131", "2020-13-01", "20200100", "2020/01/31", "", "abcdefgh"}) {
    EXPECT_THROW(NormalizeDicomDate(bad), Error) << bad;
  }
}

TEST(Dicom, WildcardToRegex) {
  EXPECT_EQ(WildcardToRegex("CT*"), "^CT.*$");
  EXPECT_EQ(WildcardToRegex("a?b"), "^a.b$");
  EXPECT_EQ(WildcardToRegex("50%_[x]."), "^50%_\\[x\\]\\.$");
  const Regex re = Regex::Compile(WildcardToRegex("Thorax^1*(x)"), "i");
  EXPECT_TRUE(re.Search("thorax^1 HR (x)"));
  EXPECT_FALSE(re.Search("thorax 1 HR (x)"));
}

TEST(Sort, BsonTypeOrder) {
  const json::value null_v = nullptr, num = 5, str = "a", obj = json::object{}, arr = json::array{}, b = false;
  const std::vector<const json::value*> ordered{nullptr, &num, &str, &obj, &arr, &b};
  for (std::size_t i = 0; i + 1 < ordered.size(); ++i) {
    EXPECT_LT(CompareForSort(ordered[i], ordered[i + 1]), 0) << i;
  }
  EXPECT_EQ(CompareForSort(nullptr, &null_v), 0);
  const json::value i1 = 1, d1 = 1.0, d15 = 1.5;
  EXPECT_EQ(CompareForSort(&i1, &d1), 0);
  EXPECT_LT(CompareForSort(&i1, &d15), 0);
}

TEST(Matcher, FilterLimits) {
  json::array big;
  for (int i = 0; i < 10000; ++i) big.push_back(i);
  EXPECT_NO_THROW(ParseFilter(json::object{{"a", json::object{{"$in", big}}}}));
  big.push_back(1);
  EXPECT_THROW(ParseFilter(json::object{{"a", json::object{{"$in", big}}}}), Error);
}

// schemathesis on FerretDB: a sort key ending in U+0085 made the whole find fail (a 500).
TEST(Parser, SortAndProjectionPathsWithSurroundingWhiteSpaceAreRejected) {
  for (const char* path : {" a", "a ", "a.\xC2\x85" "b", "b\xE3\x80\x80", "\ta"}) {
    EXPECT_THROW(ParseSort(json::object{{path, 1}}), Error) << path;
    EXPECT_THROW(ParseProjection(json::object{{path, 1}}), Error) << path;
  }
  EXPECT_EQ(ParseSort(json::object{{"a b.c\xC2\x85" "d", -1}}).size(), 1u);  // inside a component: allowed
  EXPECT_EQ(ParseProjection(json::object{{"a b", 1}}).paths.size(), 1u);
}

}  // namespace
}  // namespace meta_db::query
