// SQLite-specific checks: EXPLAIN QUERY PLAN uses an index for every promoted-field equality and range,
// free text through FTS5, the time budget interrupts long queries, hostile input leaves the table intact.
#include "common/error.hpp"
#include "store/sqlite/sqlite_columns.hpp"
#include "query/filter_tree.hpp"
#include "store/sqlite/sql_compile.hpp"
#include "store/store.hpp"
#include "test_support.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <limits>
#include <memory>
#include <variant>

namespace meta_db::query {
namespace {

namespace json = boost::json;
using namespace meta_db::sqlite;  // the translation under test
using meta_db::testing::TempDir;

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};

std::string Hex(int i) {
  std::string s = std::to_string(i);
  return std::string(24 - s.size(), '0') + s;
}

// The plan SQLite picks for the WHERE the translator produces.
std::string Plan(sqlite3* db, Kind kind, const json::value& filter) {
  const auto tree = ParseFilter(filter);
  const SqlWhere w = CompileWhere(kind, tree.get());
  const std::string sql =
      "EXPLAIN QUERY PLAN SELECT doc FROM " + std::string(CollectionName(kind)) + " WHERE " + w.sql;
  sqlite3_stmt* raw = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &raw, nullptr), SQLITE_OK) << sqlite3_errmsg(db) << "\n" << sql;
  std::unique_ptr<sqlite3_stmt, StmtFinalizer> st(raw);
  for (std::size_t i = 0; i < w.params.size() && static_cast<int>(i) < sqlite3_bind_parameter_count(raw); ++i) {
    const int idx = static_cast<int>(i + 1);
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::nullptr_t>) sqlite3_bind_null(raw, idx);
          else if constexpr (std::is_same_v<T, std::string>) sqlite3_bind_text(raw, idx, v.c_str(), -1, SQLITE_TRANSIENT);
          else if constexpr (std::is_same_v<T, double>) sqlite3_bind_double(raw, idx, v);
          else sqlite3_bind_int64(raw, idx, v);
        },
        w.params[i]);
  }
  std::string plan;
  while (sqlite3_step(raw) == SQLITE_ROW) plan += std::string(reinterpret_cast<const char*>(sqlite3_column_text(raw, 3))) + "\n";
  return plan;
}

class SqlitePlan : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = (dir_ / "plan.db").string();
    auto store = OpenStore("sqlite:" + path_);
    store->Write([](Session& s) {
      for (int i = 0; i < 50; ++i) {
        s.Insert(Kind::kStudies, json::object{{"_id", Hex(i)}, {"study_instance_uid", "1." + std::to_string(i)},
                                               {"study_date", "2020-01-01"}, {"patient_id", "P"}});
        s.Insert(Kind::kSeries, json::object{{"_id", Hex(1000 + i)}, {"series_instance_uid", "2." + std::to_string(i)},
                                              {"modality", "CT"}, {"_search_text", "lung kernel b30f " + std::to_string(i)}});
        s.Insert(Kind::kInstances, json::object{{"_id", Hex(5000 + i)}, {"sop_instance_uid", "3." + std::to_string(i)},
                                                 {"series_id", Hex(1000 + i % 5)}});
      }
    });
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open_v2(path_.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
    db_.reset(raw);
    // ANALYZE-free plans are what a fresh store gets; the checks must hold without statistics.
    ASSERT_EQ(sqlite3_create_function_v2(raw, kRegexSqlFunction, 3, SQLITE_UTF8, nullptr,
                                         [](sqlite3_context* c, int, sqlite3_value**) { sqlite3_result_int(c, 0); },
                                         nullptr, nullptr, nullptr),
              SQLITE_OK);
  }

  TempDir dir_;
  std::string path_;
  std::unique_ptr<sqlite3, DbCloser> db_;
};

json::value SampleValue(FieldType type) {
  if (type == FieldType::kText) return "value";
  if (type == FieldType::kInteger) return 7;
  return 2.5;
}

TEST_F(SqlitePlan, IndexForEveryPromotedEqualityAndRange) {
  for (Kind kind : {Kind::kStudies, Kind::kSeries}) {
    for (const IndexedField& field : IndexedFields(kind)) {
      const std::string index = "ix_" + std::string(CollectionName(kind)) + "_" + ColumnName(field);
      const json::value v = SampleValue(field.type);
      const json::value eq = json::object{{field.path, v}};
      const json::value range = json::object{{field.path, json::object{{"$gte", v}, {"$lt", v}}}};
      const json::value in = json::object{{field.path, json::object{{"$in", json::array{v, v}}}}};
      for (const json::value* f : {&eq, &range, &in}) {
        const std::string plan = Plan(db_.get(), kind, *f);
        EXPECT_NE(plan.find(index), std::string::npos) << json::serialize(*f) << "\n" << plan;
        EXPECT_EQ(plan.find("SCAN " + std::string(CollectionName(kind)) + "\n"), std::string::npos)
            << json::serialize(*f) << "\n" << plan;
      }
    }
  }
  const std::string plan = Plan(db_.get(), Kind::kInstances, json::object{{"series_id", Hex(1000)}});
  EXPECT_NE(plan.find("ix_instances_series_id"), std::string::npos) << plan;
  // _id is served by the unique index on the id column.
  const std::string by_id = Plan(db_.get(), Kind::kSeries, json::parse(R"({"_id": {"$in": ["000000000000000000001000"]}})"));
  EXPECT_NE(by_id.find("sqlite_autoindex_series"), std::string::npos) << by_id;
}

// qc.flags is an array: its membership comes from the series_qc_flags side table's flag index (schema v9), kept by
// the series table's triggers through inserts, rewrites and removals.
TEST_F(SqlitePlan, QcFlagMembershipUsesItsSideTable) {
  for (const char* filter : {R"({"qc.flags": "missing_slices"})", R"({"qc.flags": {"$in": ["a", "b"]}})",
                             R"({"qc.flags": "missing_slices", "modality": "CT"})"}) {
    const std::string plan = Plan(db_.get(), Kind::kSeries, json::parse(filter));
    EXPECT_NE(plan.find("ix_series_qc_flags_flag"), std::string::npos) << filter << "\n" << plan;
    EXPECT_EQ(plan.find("SCAN series\n"), std::string::npos) << filter << "\n" << plan;
    EXPECT_TRUE(CompileWhere(Kind::kSeries, ParseFilter(json::parse(filter)).get()).exact) << filter;
  }
  auto store = OpenStore("sqlite:" + path_);
  const auto series = [](int i, json::array flags) {
    return json::object{{"_id", Hex(9000 + i)}, {"series_instance_uid", "9." + std::to_string(i)},
                        {"qc", {{"flags", std::move(flags)}, {"kernel_class", "sharp"}}}};
  };
  store->Write([&](Session& s) {
    s.Insert(Kind::kSeries, series(1, {"missing_slices", "instance_number_holes"}));
    s.Insert(Kind::kSeries, series(2, {}));
    s.Insert(Kind::kSeries, series(3, {"no_geometry"}));
  });
  const auto ids = [&](const char* filter) {
    std::vector<std::string> out;
    store->Read([&](Session& s) {
      Query q;
      q.filter = ParseFilter(json::parse(filter));
      const FindResult found = s.Find(Kind::kSeries, q);
      EXPECT_EQ(found.total, static_cast<std::int64_t>(found.results.size())) << filter;
      for (const Document& doc : found.results) out.emplace_back(doc.at("_id").as_string());
    });
    return out;
  };
  EXPECT_EQ(ids(R"({"qc.flags": "missing_slices"})"), std::vector<std::string>{Hex(9001)});
  EXPECT_EQ(ids(R"({"qc.flags": {"$in": ["no_geometry", "instance_number_holes"]}})"),
            (std::vector<std::string>{Hex(9001), Hex(9003)}));
  store->Write([&](Session& s) {
    s.Replace(Kind::kSeries, series(2, {"missing_slices"}));
    s.Replace(Kind::kSeries, series(1, {"duplicate_positions"}));
    s.Remove(Kind::kSeries, *ObjectId::Parse(Hex(9003)));
  });
  EXPECT_EQ(ids(R"({"qc.flags": "missing_slices"})"), std::vector<std::string>{Hex(9002)});
  EXPECT_EQ(ids(R"({"qc.flags": "duplicate_positions"})"), std::vector<std::string>{Hex(9001)});
  EXPECT_TRUE(ids(R"({"qc.flags": "no_geometry"})").empty());
  EXPECT_TRUE(ids(R"({"qc.flags": "instance_number_holes"})").empty());
}

// A range on a promoted integer that 0/1 may meet (min_nodules=1) decides those rows from the stored type column,
// never by parsing their documents.
TEST(SqlCompile, PromotedRangeNearZeroOrOneReadsNoDocument) {
  const std::pair<const char*, const char*> cases[] = {{R"({"annotations.nodules": {"$gte": 1}})", "annotations_nodules_t"},
                                                       {R"({"annotations.max_malignancy": 1})", "annotations_max_malignancy_t"}};
  for (const auto& [filter, type_column] : cases) {
    const SqlWhere w = CompileWhere(Kind::kSeries, ParseFilter(json::parse(filter)).get());
    EXPECT_TRUE(w.exact) << filter;
    EXPECT_EQ(w.sql.find("json_type(doc"), std::string::npos) << filter << "\n" << w.sql;
    EXPECT_NE(w.sql.find(type_column), std::string::npos) << filter << "\n" << w.sql;
  }
}

TEST_F(SqlitePlan, FreeTextAndHostileInput) {
  auto store = OpenStore("sqlite:" + path_);
  store->Read([](Session& s) {
    Query q;
    q.text = "lung B30F";
    EXPECT_EQ(s.Find(Kind::kSeries, q).total, 50);
    q.text = "\"x' OR 1=1; DROP TABLE series; --";
    EXPECT_EQ(s.Find(Kind::kSeries, q).total, 0);
    q.text = "";
    q.filter = ParseFilter(json::parse(R"({"modality": {"$in": ["'; DROP TABLE series; --", "CT"]}})"));
    EXPECT_EQ(s.Find(Kind::kSeries, q).total, 50);
    Query studies;
    studies.text = "x";
    EXPECT_THROW(s.Find(Kind::kStudies, studies), Error);
  });
}

TEST_F(SqlitePlan, PagesWithoutTotals) {
  auto store = OpenStore("sqlite:" + path_);
  store->Read([](Session& s) {
    for (const char* filter : {R"({"modality": "CT"})", R"({"_search_text": {"$regex": "kernel"}})",
                               R"({"modality": "CT", "series_instance_uid": {"$gte": "2.1"}})"}) {
      Query q;
      q.filter = ParseFilter(json::parse(filter));
      q.count_total = false;
      q.skip = 3;
      q.limit = 2;
      const FindResult page = s.Find(Kind::kSeries, q);
      EXPECT_EQ(page.total, -1) << filter;
      ASSERT_EQ(page.results.size(), 2u) << filter;
      q.count_total = true;
      q.skip = std::numeric_limits<std::int64_t>::max();
      const FindResult none = s.Find(Kind::kSeries, q);
      EXPECT_TRUE(none.results.empty()) << filter;
      EXPECT_GT(none.total, 0) << filter;
    }
  });
}

TEST(SqliteBudget, LongQueryIsInterrupted) {
  TempDir dir;
  StoreOptions options;
  options.query_budget_ms = 1;
  auto store = OpenStore("sqlite:" + (dir / "budget.db").string(), options);
  store->Write([](Session& s) {
    for (int i = 0; i < 20000; ++i) {
      s.Insert(Kind::kSeries, json::object{{"_id", Hex(i)}, {"metadata", json::object{{"Comment", std::string(200, 'x')}}}});
    }
  });
  store->Read([](Session& s) {
    Query q;
    q.filter = ParseFilter(json::parse(R"({"metadata.Comment": {"$regex": "y$"}})"));
    try {
      s.Find(Kind::kSeries, q);
      FAIL() << "expected a timeout";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::kTimeout) << e.what();
    }
  });
}

}  // namespace
}  // namespace meta_db::query
