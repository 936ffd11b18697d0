// Differential test: random documents with hostile type mixes at promoted and plain paths, random filters
// and sorts; the SQLite store must return exactly what the reference matcher returns, in the same order.
#include "case_runner.hpp"
#include "store/store.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>
#include <random>

namespace meta_db::query::testing {
namespace {

namespace json = boost::json;

json::value Pick(std::mt19937& rng, const std::vector<json::value>& pool) { return pool[rng() % pool.size()]; }

const std::vector<json::value>& ValuePool() {
  static const std::vector<json::value> kPool{
      "CT", "MR", "[x]", "{y}", "", "ct", json::array{"CT", "PT"}, json::array{}, json::array{1, 3}, true, false,
      0, 1, 2, 1.0, 2.5, 0.5, "1", "1.0", nullptr, json::object{{"a", 1}}, json::array{json::object{{"a", 1}}}};
  return kPool;
}

json::object RandomDoc(std::mt19937& rng, int i) {
  json::object doc{{"_id", FullId(std::to_string(i))}};
  const auto& pool = ValuePool();
  for (const char* key : {"modality", "series_number", "rank"}) {
    if (rng() % 5 != 0) doc[key] = Pick(rng, pool);
  }
  json::object metadata;
  for (const char* key : {"SliceThickness", "Manufacturer", "Rows"}) {
    if (rng() % 5 != 0) metadata[key] = Pick(rng, pool);
  }
  if (rng() % 3 == 0) {
    metadata["Seq"] = json::array{json::object{{"a", Pick(rng, pool)}}, json::object{{"b", Pick(rng, pool)}}};
  }
  if (rng() % 8 != 0) doc["metadata"] = std::move(metadata);
  return doc;
}

json::object RandomLeaf(std::mt19937& rng) {
  static const char* kPaths[] = {"modality", "series_number", "rank", "metadata.SliceThickness",
                                 "metadata.Manufacturer", "metadata.Rows", "metadata.Seq.a", "_id"};
  static const char* kOps[] = {"$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$regex",
                               "$size", "$all", "$elemMatch", "$not", "="};
  const std::string path = kPaths[rng() % 8];
  const std::string op = kOps[rng() % 15];
  const auto& pool = ValuePool();
  json::value operand;
  if (op == "=") return {{path, Pick(rng, pool)}};
  if (op == "$in" || op == "$nin" || op == "$all") {
    operand = json::array{Pick(rng, pool), Pick(rng, pool)};
  } else if (op == "$exists") {
    operand = rng() % 2 == 0;
  } else if (op == "$regex") {
    static const char* kPatterns[] = {"^C", "T$", "^\\[", "^\\{", "1", "^$", "c"};
    return {{path, json::object{{"$regex", kPatterns[rng() % 7]}, {"$options", rng() % 2 ? "i" : ""}}}};
  } else if (op == "$size") {
    operand = static_cast<int>(rng() % 3);
  } else if (op == "$elemMatch") {
    operand = rng() % 2 ? json::value(json::object{{"$gte", Pick(rng, pool)}}) : json::value(json::object{{"a", Pick(rng, pool)}});
  } else if (op == "$not") {
    operand = json::object{{rng() % 2 ? "$gt" : "$eq", Pick(rng, pool)}};
  } else {
    operand = Pick(rng, pool);
  }
  return {{path, json::object{{op, operand}}}};
}

json::object RandomFilter(std::mt19937& rng, int depth) {
  if (depth == 0 || rng() % 3 == 0) return RandomLeaf(rng);
  static const char* kLogic[] = {"$and", "$or", "$nor"};
  json::array items{RandomFilter(rng, depth - 1), RandomFilter(rng, depth - 1)};
  if (rng() % 3 == 0) {  // implicit $and of two fields
    json::object both = RandomLeaf(rng);
    for (const auto& kv : RandomLeaf(rng)) both[kv.key()] = kv.value();
    return both;
  }
  return {{kLogic[rng() % 3], items}};
}

TEST(QueryDifferential, SqliteAgreesWithMatcher) {
  const char* seed = std::getenv("META_DB_DIFF_SEED");
  std::mt19937 rng(seed != nullptr ? static_cast<unsigned>(std::stoul(seed)) : 20261125u);
  std::vector<json::object> docs;
  for (int i = 1; i <= 120; ++i) docs.push_back(RandomDoc(rng, i));
  meta_db::testing::TempDir dir;
  auto store = OpenStore("sqlite:" + (dir / "diff.db").string());
  store->Write([&](Session& s) {
    for (const auto& d : docs) s.Insert(Kind::kSeries, d);
  });
  static const char* kSortKeys[] = {"modality", "series_number", "rank", "metadata.SliceThickness", "_id"};
  int compared = 0, nonempty = 0;
  for (int round = 0; round < 600; ++round) {
    json::object body{{"filter", RandomFilter(rng, 2)}, {"limit", 1000}};
    if (rng() % 3 == 0) body["sort"] = json::object{{kSortKeys[rng() % 5], rng() % 2 ? 1 : -1}};
    if (rng() % 4 == 0) {
      body["skip"] = static_cast<int>(rng() % 10);
      body["limit"] = static_cast<int>(1 + rng() % 10);
    }
    Query q;
    try {
      q = ParseQueryRequest(body);
    } catch (const Error&) {
      continue;  // e.g. a literal the parser rejects; not this test's concern
    }
    Query unpaged = q;
    unpaged.skip = 0;
    unpaged.limit = 1 << 30;
    const auto expected = ReferenceFind(docs, q);
    const auto expected_total = static_cast<std::int64_t>(ReferenceFind(docs, unpaged).size());
    FindResult found;
    store->Read([&](Session& s) { found = s.Find(Kind::kSeries, q); });
    ASSERT_EQ(Ids(found.results), Ids(expected)) << json::serialize(body);
    ASSERT_EQ(found.total, expected_total) << json::serialize(body);
    ++compared;
    nonempty += expected.empty() ? 0 : 1;
  }
  EXPECT_GT(compared, 500);
  EXPECT_GT(nonempty, 150);
  std::cout << "differential: " << compared << " random queries agree (" << nonempty << " non-empty)\n";
}

}  // namespace
}  // namespace meta_db::query::testing
