// CatalogSession::ScanPages on the store under test (SQLite file or MongoDB server): every match once, in _id order,
// in pages, projected exactly as query::Project projects the whole document (which Find returns); resuming after an
// id; stopping; bad pages. And the SQLite back-end's FieldPicker against query::Project on hostile stored text.
#include "common/error.hpp"
#include "common/json_io.hpp"
#include "store/sqlite/sqlite_find_fields.hpp"
#include "store/store.hpp"
#include "test_support.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>

namespace meta_db {
namespace {

namespace json = boost::json;

std::string Hex(int i, int group) {
  char text[25];
  std::snprintf(text, sizeof text, "%08x%016x", static_cast<unsigned>(group * 7919 % 65536), static_cast<unsigned>(i * 2654435761u));
  return text;
}

// Documents of many shapes: fields missing, null, booleans, doubles, large integers, escapes and non-ASCII text,
// arrays of scalars, arrays of objects (which dotted projections descend into), nested objects.
Document Shaped(int i) {
  Document doc{{"_id", Hex(i, i % 13)},
               {"sop_instance_uid", "1.2." + std::to_string(i)},
               {"series_id", Hex(i % 5, 99)}};
  if (i % 3 != 0) doc["instance_number"] = i;
  if (i % 4 == 0) doc["instance_number"] = nullptr;
  if (i % 7 == 0) doc["flag"] = i % 2 == 0;
  json::object metadata{{"Manufacturer", i % 2 ? "GE" : "SIEMENS"}, {"SliceThickness", 0.625 * (i % 5) + 0.1}};
  if (i % 5 == 0) metadata["ImageType"] = json::array{"ORIGINAL", "PRIMARY"};
  if (i % 6 == 0) metadata["Text"] = "quote \" back \\ tab \t nl \n \xc3\xa9\xe6\xbc\xa2 \\u0041";
  if (i % 11 != 0) doc["metadata"] = std::move(metadata);
  if (i % 2 == 0) {
    doc["readings"] = json::array{json::object{{"value", i}, {"by", "a"}}, 7, json::object{{"by", "b"}}};
  } else {
    doc["readings"] = json::object{{"value", -i}, {"by", "c"}};
  }
  doc["big"] = std::int64_t{1} << 40;
  doc["path"] = "/archive/P" + std::to_string(i % 17) + "/" + std::to_string(i) + ".dcm";
  return doc;
}

class StoreScanTest : public ::testing::Test {
 protected:
  void SetUp() override {
    META_DB_REQUIRE_TEST_BACKEND();
    db_ = std::make_unique<testing::TestDatabase>("scan");
    store_ = OpenStore(db_->uri());
    store_->Write([&](Session& s) {
      for (int i = 0; i < kDocs; ++i) s.Insert(Kind::kInstances, Shaped(i));
    });
  }
  // Fewer on a server (FerretDB inserts and finds are slow); every shape still appears many times.
  const int kDocs = testing::TestingMongo() ? 150 : 1200;
  void TearDown() override {
    store_.reset();
    db_.reset();
  }

  // What a scan must give: Find's whole documents in _id order, each projected by query::Project.
  std::vector<std::string> Expected(const json::value& filter, const std::optional<std::vector<std::string>>& fields) {
    query::Query q;
    if (!filter.is_null()) q.filter = query::ParseFilter(filter);
    q.sort = {{"_id", 1}};
    q.limit = kDocs + 1;
    q.count_total = false;
    std::vector<std::string> out;
    store_->Read([&](Session& s) {
      for (const Document& doc : s.Find(Kind::kInstances, q).results) {
        out.push_back(json::serialize(fields ? query::Project(doc, query::Projection{true, *fields}) : doc));
      }
    });
    return out;
  }

  std::vector<std::string> Scanned(const json::value& filter, const std::optional<std::vector<std::string>>& fields,
                                   std::int64_t page, std::vector<std::size_t>* sizes = nullptr) {
    ScanQuery scan;
    if (!filter.is_null()) scan.filter = query::ParseFilter(filter);
    scan.fields = fields;
    scan.page = page;
    std::vector<std::string> out;
    store_->Read([&](Session& s) {
      s.ScanPages(Kind::kInstances, scan, [&](std::vector<Document>& docs) {
        if (sizes != nullptr) sizes->push_back(docs.size());
        for (const Document& doc : docs) out.push_back(json::serialize(doc));
        return true;
      });
    });
    return out;
  }

  std::unique_ptr<testing::TestDatabase> db_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreScanTest, EveryMatchOnceInIdOrderProjectedAsProjectDoes) {
  const std::vector<std::optional<std::vector<std::string>>> projections{
      std::nullopt,
      std::vector<std::string>{},
      std::vector<std::string>{"sop_instance_uid", "series_id", "instance_number", "path"},  // indexed columns + text
      std::vector<std::string>{"instance_number", "sop_instance_uid"},                       // columns only
      std::vector<std::string>{"path", "metadata.Manufacturer", "metadata.SliceThickness", "flag", "absent"},
      std::vector<std::string>{"readings.value", "readings.by", "metadata.ImageType", "metadata.Text", "big"},
      std::vector<std::string>{"metadata", "metadata.Text", "_id", "readings"},
  };
  const std::vector<json::value> filters{
      nullptr,
      json::object{{"series_id", json::object{{"$in", json::array{Hex(1, 99), Hex(3, 99)}}}}},  // an index set
      json::object{{"metadata.Manufacturer", "GE"}, {"instance_number", json::object{{"$gte", 100}}}},
      json::object{{"readings.value", json::object{{"$gt", kDocs / 3}}}},  // through an array of objects: re-checked
      json::object{{"path", json::object{{"$regex", "/P1[0-9]/"}}}},
  };
  for (const json::value& filter : filters) {
    for (const auto& fields : projections) {
      const std::vector<std::string> want = Expected(filter, fields);
      ASSERT_FALSE(want.empty()) << json::serialize(filter);
      for (const std::int64_t page : {std::int64_t{1}, std::int64_t{7}, std::int64_t{1000}}) {
        if (page == 1 && testing::TestingMongo()) continue;
        if (page == 1 && !filter.is_null()) continue;  // one-document pages: once is enough
        std::vector<std::size_t> sizes;
        const std::vector<std::string> got = Scanned(filter, fields, page, &sizes);
        ASSERT_EQ(got, want) << "filter " << json::serialize(filter) << ", page " << page << ", fields "
                             << (fields ? json::serialize(json::value_from(*fields)) : "whole");
        for (std::size_t i = 0; i < sizes.size(); ++i) {
          EXPECT_GE(sizes[i], 1u);
          EXPECT_LE(sizes[i], static_cast<std::size_t>(page));
        }
      }
    }
  }
}

TEST_F(StoreScanTest, ResumesAfterAnIdAndStopsWhenTheVisitorSaysSo) {
  const std::vector<std::string> all = Expected(nullptr, std::vector<std::string>{"path"});
  ASSERT_EQ(all.size(), static_cast<std::size_t>(kDocs));
  const std::string middle(ParseJsonObject(all[kDocs / 2]).at("_id").as_string());
  ScanQuery scan;
  scan.fields = std::vector<std::string>{"path"};
  scan.after = *ObjectId::Parse(middle);
  scan.page = 20;
  std::vector<std::string> rest;
  int pages = 0;
  store_->Read([&](Session& s) {
    s.ScanPages(Kind::kInstances, scan, [&](std::vector<Document>& docs) {
      for (const Document& doc : docs) rest.push_back(json::serialize(doc));
      return ++pages < 3;
    });
  });
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(rest.size(), 60u);
  EXPECT_TRUE(std::equal(rest.begin(), rest.end(), all.begin() + kDocs / 2 + 1));
}

TEST_F(StoreScanTest, BadPagesAndFreeTextOutsideSeriesAreBadRequests) {
  for (const std::int64_t page : {std::int64_t{0}, kMaxScanPage + 1}) {
    ScanQuery scan;
    scan.page = page;
    try {
      store_->Read([&](Session& s) { s.ScanPages(Kind::kInstances, scan, [](std::vector<Document>&) { return true; }); });
      ADD_FAILURE() << "page " << page << " accepted";
    } catch (const Error& error) {
      EXPECT_EQ(error.code(), Errc::kBadRequest);
    }
  }
  ScanQuery text;
  text.text = "chest";
  try {
    store_->Read([&](Session& s) { s.ScanPages(Kind::kInstances, text, [](std::vector<Document>&) { return true; }); });
    ADD_FAILURE() << "free text on instances accepted";
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), Errc::kBadRequest);
  }
}

// A budget far too short for a page: each page is cut, the pass resumes after the last row it saw, and either
// completes with every match exactly once or, when a restarted page finds nothing in its budget, fails as a timeout.
TEST(StoreScanBudget, APageOutOfTimeNeverLosesOrRepeatsRows) {
  META_DB_REQUIRE_TEST_BACKEND();
  META_DB_SQLITE_ONLY("SQLite's restart of a page cut by the budget");
  testing::TestDatabase db("budget");
  StoreOptions options;
  options.query_budget_ms = 1;
  auto store = OpenStore(db.uri(), options);
  constexpr int kMany = 6000;
  store->Write([&](Session& s) {
    for (int i = 0; i < kMany; ++i) s.Insert(Kind::kInstances, Shaped(i));
  });
  ScanQuery scan;
  scan.filter = query::ParseFilter(json::object{{"path", json::object{{"$regex", "dcm$"}}}});
  scan.fields = std::vector<std::string>{"path"};
  scan.page = kMaxScanPage;
  std::vector<std::string> ids;
  try {
    store->Read([&](Session& s) {
      s.ScanPages(Kind::kInstances, scan, [&](std::vector<Document>& docs) {
        for (const Document& doc : docs) ids.emplace_back(doc.at("_id").as_string());
        return true;
      });
    });
  } catch (const Error& error) {
    EXPECT_EQ(error.code(), Errc::kTimeout) << error.what();
    EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
    EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end());
    return;
  }
  ASSERT_EQ(ids.size(), static_cast<std::size_t>(kMany));
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
  EXPECT_EQ(std::adjacent_find(ids.begin(), ids.end()), ids.end());
}

// The stored text is the SQLite back-end's: any JSON object text, spaces and escapes included, must project as the
// whole parsed document does; text that is not an object is an error, never a read past the text.
TEST(FieldPicker, ProjectsAnyObjectTextAsProjectDoes) {
  const std::vector<std::string> texts{
      R"({"_id":"a","path":"/x","metadata":{"M":"GE","N":[1,2,{"q":"}"}]},"s":"a\"b\\"})",
      R"( { "metadata" : { "M" : "x]\"}" } , "_id" : "b" , "p\u0061th" : "/y" , "n" : -0 , "d" : 1.25E0 } )",
      R"({"_id":"c","readings":[{"value":1},2,{"value":3,"by":"z"}],"big":123456789012345678901,"neg":-42})",
      R"({"path":null,"t":true,"f":false,"e":{},"a":[],"deep":{"a":{"b":{"c":[{"d":1}]}}}})",
      R"({})",
  };
  const std::vector<std::vector<std::string>> projections{
      {"path"},
      {"path", "metadata.M", "metadata.N", "s", "n", "d"},
      {"readings.value", "readings.by", "big", "neg"},
      {"t", "f", "e", "a", "deep.a.b.c.d", "deep.a.x", "absent.y"},
      {"metadata", "metadata.M", "_id"},
      {},
  };
  for (const std::string& text : texts) {
    const Document whole = ParseJsonObject(text);
    for (const auto& paths : projections) {
      const sqlite::FieldPicker picker(paths);
      EXPECT_EQ(json::serialize(picker.Pick(text)), json::serialize(query::Project(whole, query::Projection{true, paths})))
          << text << " projected on " << json::serialize(json::value_from(paths));
    }
  }
  const sqlite::FieldPicker picker({"path", "zzz"});
  for (const std::string bad : {"", "[1]", "{", R"({"path":"unterminated)", R"({"a":[1,2)", R"({"a" 1})", R"({"a":})",
                                R"({"a":1,)", "nonsense"}) {
    try {
      picker.Pick(bad);
      ADD_FAILURE() << "accepted " << bad;
    } catch (const Error& error) {
      EXPECT_TRUE(error.code() == Errc::kInternal || error.code() == Errc::kBadRequest) << bad;
    }
  }
}

}  // namespace
}  // namespace meta_db
