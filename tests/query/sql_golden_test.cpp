// Translator golden tests: hostile filters compile to SQL made only of our constants and placeholders.
#include "query/filter_tree.hpp"
#include "store/sqlite/sql_compile.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace meta_db::query {
namespace {

namespace json = boost::json;
using namespace meta_db::sqlite;  // the translation under test

SqlWhere Compile(Kind kind, std::string_view filter_json) {
  const auto filter = ParseFilter(json::parse(filter_json));
  return CompileWhere(kind, filter.get());
}

bool ParamsContain(const SqlWhere& w, std::string_view needle) {
  for (const SqlValue& v : w.params) {
    if (const auto* s = std::get_if<std::string>(&v); s != nullptr && s->find(needle) != std::string::npos) return true;
  }
  return false;
}

TEST(SqlGolden, PromotedEqualityUsesColumnAndPlaceholder) {
  const SqlWhere w = Compile(Kind::kSeries, R"({"modality": "XYZZY"})");
  EXPECT_TRUE(w.exact);
  EXPECT_NE(w.sql.find("modality IN (?"), std::string::npos) << w.sql;
  EXPECT_EQ(w.sql.find("XYZZY"), std::string::npos) << w.sql;
}

TEST(SqlGolden, HostileValuesAndPathsNeverReachSqlText) {
  const char* hostile[] = {
      R"({"modality": "x'; DROP TABLE series; --"})",
      R"({"metadata.Foo": "*/ 1; DROP TABLE series; --"})",
      R"({"na'me": {"$in": ["a'b", "%_"]}})",
      R"({"metadata.x' OR 1=1 --": {"$gt": "q\"uote"}})",
      R"({"metadata.50%_off": {"$regex": "%_.*", "$options": "i"}})",
      R"({"metadata.Ünïcode": {"$ne": "naïve\u0000NUL"}})",
      R"({"$or": [{"we\"ird": 1}, {"metadata.DROP TABLE": {"$exists": true}}]})",
      R"({"tags": {"$elemMatch": {"k); DELETE FROM series;--": "v"}}})",
  };
  const char* needles[] = {"DROP", "DELETE", "a'b", "x'", "%_", "naïve", "Ünïcode", "we\"ird", "OR 1=1", "q\"uote"};
  for (const char* filter : hostile) {
    const SqlWhere w = Compile(Kind::kSeries, filter);
    for (const char* needle : needles) {
      EXPECT_EQ(w.sql.find(needle), std::string::npos) << filter << " -> " << w.sql;
    }
    EXPECT_EQ(w.sql.find("--"), std::string::npos) << w.sql;
    EXPECT_EQ(w.sql.find("/*"), std::string::npos) << w.sql;
  }
  EXPECT_TRUE(ParamsContain(Compile(Kind::kSeries, hostile[0]), "DROP TABLE"));
}

TEST(SqlGolden, PathsAreBoundAsJsonPaths) {
  const SqlWhere w = Compile(Kind::kSeries, R"({"metadata.Rows": 512})");
  EXPECT_NE(w.sql.find("json_extract(doc, ?"), std::string::npos) << w.sql;
  EXPECT_TRUE(ParamsContain(w, R"($."metadata"."Rows")"));
  EXPECT_EQ(w.sql.find("Rows"), std::string::npos);
}

TEST(SqlGolden, UntranslatablePathsAreInexactNotWrong) {
  EXPECT_FALSE(Compile(Kind::kSeries, R"({"we\"ird": 1})").exact);
  EXPECT_FALSE(Compile(Kind::kSeries, R"({"metadata.PixelSpacing.0": 1})").exact);
  EXPECT_FALSE(Compile(Kind::kSeries, R"({"metadata.Rows": {"$ne": 1}})").exact);
  EXPECT_TRUE(Compile(Kind::kSeries, R"({"modality": {"$ne": "CT"}})").exact);
  EXPECT_TRUE(Compile(Kind::kSeries, R"({"metadata.SliceThickness": {"$gte": 1, "$lte": 2}})").exact);
  // Non-promoted paths are exact except on the rows `recheck` names (U+0000 in the document, array parents).
  const SqlWhere rank = Compile(Kind::kSeries, R"({"rank": {"$gte": 1}})");
  EXPECT_FALSE(rank.exact);
  EXPECT_NE(rank.recheck, "1");
  EXPECT_NE(rank.recheck.find("instr(doc, ?"), std::string::npos) << rank.recheck;
  const SqlWhere ne = Compile(Kind::kSeries, R"({"metadata.Rows": {"$ne": 1}})");
  EXPECT_NE(ne.recheck, "1") << ne.recheck;
  EXPECT_EQ(Compile(Kind::kSeries, R"({"modality": "CT"})").recheck, "0");
}

TEST(SqlGolden, BigListsStayShallow) {
  json::array list;
  for (int i = 0; i < 10000; ++i) list.push_back(i % 2 ? json::value(i) : json::value(std::to_string(i)));
  const auto filter = ParseFilter(json::object{{"modality", json::object{{"$in", list}}}});
  const SqlWhere w = CompileWhere(Kind::kSeries, filter.get());
  EXPECT_LE(w.params.size(), kMaxSqlParams);
  EXPECT_LT(w.sql.find(" IN ("), std::string::npos);
}

TEST(SqlGolden, FtsWordsAreQuotedLiterals) {
  EXPECT_EQ(FtsMatchExpression("  lung   B30f "), R"("lung" AND "B30f")");
  EXPECT_EQ(FtsMatchExpression(R"(a"b OR c*)"), R"("a""b" AND "OR" AND "c*")");
  EXPECT_EQ(FtsMatchExpression("   "), "");
}

}  // namespace
}  // namespace meta_db::query
