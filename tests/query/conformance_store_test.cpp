// Runs every conformance case (one gtest per case) against a real store of the back-end under test
// (META_DB_TEST_BACKEND: a SQLite file, or a database on a MongoDB server) through OpenStore + Insert + Find, and
// checks the answer, the order and the total against the expected ids and the reference matcher.
// A document the store cannot hold is left out of its set, and that set's cases are checked against the reference
// matcher on the documents stored (a note says so). QueryConformanceStoreSets.EveryDocumentIsStored fails for each such
// document, except on FerretDB for one of its documented gaps (https://docs.ferretdb.io/v1.24/diff: nested arrays,
// NUL in strings, keys with '.' or a leading '$').
#include "case_runner.hpp"
#include "store/store.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <iostream>
#include <map>
#include <optional>
#include <set>

namespace meta_db::query::testing {

// gtest names a failing case by its label, not its bytes.
void PrintTo(const Case& c, std::ostream* out) { *out << c.Label(); }

namespace {

namespace json = boost::json;
using meta_db::testing::TestDatabase;

// The documented FerretDB gap a value hits, if any.
std::optional<std::string> FerretDbGap(const json::value& value, bool in_array = false) {
  if (const auto* s = value.if_string(); s != nullptr && s->find('\0') != json::string::npos) {
    return "NUL (\\0) in a string";
  }
  if (const auto* a = value.if_array()) {
    if (in_array) return "nested arrays";
    for (const auto& item : *a) {
      if (auto gap = FerretDbGap(item, true)) return gap;
    }
  }
  if (const auto* o = value.if_object()) {
    for (const auto& [key, item] : *o) {
      if (key.find('\0') != json::string::npos) return "NUL (\\0) in a key";
      if (key.find('.') != json::string::npos || key.starts_with("$")) return "key with '.' or a leading '$'";
      // Not in its documentation: SQLite's "malformed JSON" for a top-level key with a quote or a backslash.
      if (!in_array && key.find_first_of("\"\\") != json::string::npos) return "key with a quote or a backslash";
      if (auto gap = FerretDbGap(item)) return gap;
    }
  }
  return std::nullopt;
}

// Cases FerretDB v1.24 answers differently from MongoDB (each checked by hand with pymongo against FerretDB; the
// list is in docs/mongodb.md): skipped only when buildInfo names FerretDB.
const std::map<std::string, std::string>& FerretDbDifferences() {
  static const std::map<std::string, std::string> differences{
      {"$elemMatch range needs one element", "$elemMatch of two ranges on a scalar array matches one element each"},
      {"$elemMatch object form skips non-objects", "$elemMatch {k: {$exists: true}} matches nothing"},
      {"$ne on sequence field", "$ne through an array of documents still returns the document with the value"},
      {"$elemMatch object form", "$elemMatch: support for $and not implemented yet"},
      {"$elemMatch with operator inside", "$elemMatch: support for $and not implemented yet"},
      {"$elemMatch on sequence with $size", "$elemMatch: support for $and not implemented yet"},
      {"$elemMatch with $or", "$elemMatch: support for $or not implemented yet"},
      {"$elemMatch value form $ne", "$elemMatch: support for $ne not implemented yet"},
      {"regex extended with comment", "$options 'x' not implemented"},
      // MongoDB (and FerretDB) sort an empty array below null on a descending sort; meta_db's reference matcher and
      // SQLite store sort it like null (docs/query.md).
      {"descending sort uses largest element", "an empty array sorts below null, as on MongoDB"},
  };
  return differences;
}

// One store per distinct (collection, documents) set: cases of a file share their documents.
struct StoredSet {
  std::unique_ptr<TestDatabase> db;  // declared first: destroyed after its store
  std::unique_ptr<Store> store;
  std::vector<json::object> stored;  // what the store holds, in insertion order
  std::vector<std::string> left_out;  // documented FerretDB gaps
  std::vector<std::string> failures;  // documents that could not be stored for any other reason (also left out)
  bool noted = false;                 // the left-out documents were printed (once per set)
};

std::map<std::string, StoredSet>& Sets() {
  static std::map<std::string, StoredSet> sets;
  return sets;
}

StoredSet& SetFor(const Case& c, Kind kind) {
  std::string key = c.collection + "\n";
  for (const auto& d : c.documents) key += json::serialize(d) + "\n";
  auto found = Sets().find(key);
  if (found != Sets().end()) return found->second;
  StoredSet set;
  set.db = std::make_unique<TestDatabase>("case" + std::to_string(Sets().size()));
  set.store = OpenStore(set.db->uri());
  // One unit per document: natural order is insertion order on every back-end (a server back-end may apply one
  // unit's writes in any order).
  for (const auto& d : c.documents) {
    try {
      set.store->Write([&](Session& s) { s.Insert(kind, d); });
      set.stored.push_back(d);
    } catch (const Error& e) {
      const std::string what = "document " + json::serialize(d.at("_id")) + ": " + e.what();
      const auto gap = FerretDbGap(d);
      if (gap && meta_db::testing::IsFerretDb()) {
        set.left_out.push_back(what + " [documented FerretDB gap: " + *gap + "]");
      } else {
        set.failures.push_back(what);
      }
    }
  }
  return Sets().emplace(key, std::move(set)).first->second;
}

std::vector<Case> StoreCases() {
  std::vector<Case> cases;
  for (Case& c : LoadCases(META_DB_QUERY_CASES_DIR)) {
    if (!c.expect_error) cases.push_back(std::move(c));  // rejected by the shared parser before any back-end sees them
  }
  return cases;
}

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  std::string name = info.param.file.substr(0, info.param.file.find('.')) + "__" + info.param.name;
  for (char& ch : name) {
    if (std::isalnum(static_cast<unsigned char>(ch)) == 0) ch = '_';
  }
  return "c" + std::to_string(info.index) + "_" + name;
}

class QueryConformanceStore : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override { META_DB_REQUIRE_TEST_BACKEND(); }
  // Every store closed and its database dropped while the process can still talk to the server.
  static void TearDownTestSuite() { Sets().clear(); }
};

class QueryConformanceStoreSets : public ::testing::Test {
 protected:
  void SetUp() override { META_DB_REQUIRE_TEST_BACKEND(); }
  static void TearDownTestSuite() { Sets().clear(); }
};

TEST_F(QueryConformanceStoreSets, EnoughCases) { EXPECT_GE(StoreCases().size(), 150u); }

// Every document of every case file is stored (one failure per document that is not, naming the file).
TEST_F(QueryConformanceStoreSets, EveryDocumentIsStored) {
  std::set<const StoredSet*> seen;  // each set once
  for (const Case& c : StoreCases()) {
    const auto kind = ParseKind(c.collection);
    ASSERT_TRUE(kind.has_value()) << c.Label();
    StoredSet& set = SetFor(c, *kind);
    if (!seen.insert(&set).second) continue;
    for (const std::string& failure : set.failures) ADD_FAILURE() << c.file << ": cannot store " << failure;
    for (const std::string& note : set.left_out) std::cout << "note: " << c.file << ": left out " << note << "\n";
    set.noted = !set.left_out.empty() && set.failures.empty();
  }
}

TEST_P(QueryConformanceStore, Case) {
  const Case& c = GetParam();
  SCOPED_TRACE(c.Label());
  const auto kind = ParseKind(c.collection);
  ASSERT_TRUE(kind.has_value());
  StoredSet& set = SetFor(c, *kind);
  if (!set.noted) {
    for (const std::string& note : set.left_out) std::cout << "note: " << c.file << ": left out " << note << "\n";
    for (const std::string& note : set.failures) {
      std::cout << "note: " << c.file << ": left out " << note << " [see QueryConformanceStoreSets.EveryDocumentIsStored]\n";
    }
    set.noted = true;
  }
  if (const auto difference = FerretDbDifferences().find(c.name);
      difference != FerretDbDifferences().end() && meta_db::testing::IsFerretDb()) {
    GTEST_SKIP() << "FerretDB v1.24 differs from MongoDB here: " << difference->second;
  }
  const bool reduced = set.stored.size() != c.documents.size();
  try {
    const Query q = ParseQueryRequest(c.request);
    FindResult found;
    set.store->Read([&](Session& s) { found = s.Find(*kind, q); });
    Query unpaged = q;
    unpaged.skip = 0;
    unpaged.limit = 1 << 30;
    const auto reference_total = static_cast<std::int64_t>(ReferenceFind(set.stored, unpaged).size());
    const char* oracle = reduced ? " (oracle: the reference matcher on the documents stored)" : "";
    if (c.expected_docs.is_null()) {
      const std::vector<std::string> expected = reduced ? Ids(ReferenceFind(set.stored, q)) : c.expected_ids;
      EXPECT_EQ(Ids(found.results), expected) << "ids and their order" << oracle;
    } else {
      const json::value expected = reduced ? json::value_from(ReferenceFind(set.stored, q)) : c.expected_docs;
      EXPECT_EQ(json::value_from(found.results), expected) << "projected documents" << oracle;
    }
    EXPECT_EQ(found.total, reference_total) << "total" << oracle;
  } catch (const Error& e) {
    ADD_FAILURE() << "unexpected error: " << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, QueryConformanceStore, ::testing::ValuesIn(StoreCases()), CaseName);

}  // namespace
}  // namespace meta_db::query::testing
