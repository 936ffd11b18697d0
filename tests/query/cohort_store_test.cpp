// The cohort conformance cases (tests/query/cohort_cases/*.json) on a real store of the back-end under test: one
// catalogue of studies, series and instances, each case a POST /cohort body through the API's own parser into
// FindCohort, checked against the expected ids, total and counts and against a reference computed with the matcher.
#include "case_runner.hpp"
#include "db_api/api.hpp"
#include "store/store.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <set>

namespace meta_db::query::testing {
namespace {

namespace json = boost::json;
using meta_db::testing::TestDatabase;

struct CohortCase {
  std::string name;
  json::object request;
  std::vector<std::string> expected_ids;
  std::int64_t expected_total = 0;
  json::object expected_counts;
  bool error = false;
};

void PrintTo(const CohortCase& c, std::ostream* out) { *out << c.name; }

void FixReferences(json::object& doc) {
  for (const char* key : {"_id", "study_id", "series_id"}) {
    if (auto* v = doc.if_contains(key); v != nullptr && v->is_string()) *v = FullId(v->as_string());
  }
}

json::object LoadFile() {
  std::ifstream in(std::string(META_DB_COHORT_CASES_DIR) + "/cohort.json");
  std::stringstream text;
  text << in.rdbuf();
  return json::parse(text.str()).as_object();
}

std::vector<CohortCase> Cases() {
  std::vector<CohortCase> cases;
  const json::object file = LoadFile();
  for (const auto& v : file.at("cases").as_array()) {
    const auto& o = v.as_object();
    CohortCase c;
    c.name = json::value_to<std::string>(o.at("name"));
    c.request = o.at("request").as_object();
    if (const auto* e = o.if_contains("error")) c.error = e->as_bool();
    if (!c.error) {
      for (const auto& id : o.at("expected_ids").as_array()) c.expected_ids.push_back(FullId(id.as_string()));
      c.expected_total = o.at("expected_total").as_int64();
      c.expected_counts = o.at("expected_counts").as_object();
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

using Docs = std::map<Kind, std::vector<json::object>>;

Docs Documents() {
  Docs docs;
  const json::object file = LoadFile();
  const auto& all = file.at("documents").as_object();
  for (Kind kind : {Kind::kStudies, Kind::kSeries, Kind::kInstances}) {
    for (auto d : all.at(CollectionName(kind)).as_array()) {
      FixReferences(d.as_object());
      docs[kind].push_back(d.as_object());
    }
  }
  return docs;
}

// The definition (store.hpp), evaluated with the reference matcher over every document.
CohortCounts Reference(const Docs& docs, const CohortQuery& q, std::vector<std::string>* level_ids) {
  auto matches = [](const std::shared_ptr<const Filter>& f, const json::object& d) { return !f || Matches(*f, d); };
  auto text = [](const json::object& d, const char* key) {
    const auto* v = d.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  std::map<std::string, std::string> studies;  // id -> patient
  for (const auto& d : docs.at(Kind::kStudies)) {
    if (matches(q.studies, d)) studies[text(d, "_id")] = text(d, "patient_id");
  }
  std::set<std::string> series, study_ids, patients;
  for (const auto& d : docs.at(Kind::kSeries)) {
    if (!matches(q.series, d)) continue;
    const std::string study = text(d, "study_id");
    if (q.studies && !studies.contains(study)) continue;
    if (q.instances) {
      bool any = false;
      for (const auto& i : docs.at(Kind::kInstances)) any = any || (text(i, "series_id") == text(d, "_id") && matches(q.instances, i));
      if (!any) continue;
    }
    series.insert(text(d, "_id"));
    if (studies.contains(study) || !q.studies) study_ids.insert(study);
  }
  CohortCounts counts;
  std::set<std::string> existing;
  for (const auto& d : docs.at(Kind::kStudies)) {
    if (study_ids.contains(text(d, "_id")) && matches(q.studies, d)) {
      existing.insert(text(d, "_id"));
      if (!text(d, "patient_id").empty()) patients.insert(text(d, "patient_id"));
    }
  }
  std::vector<std::string> instances;
  for (const auto& i : docs.at(Kind::kInstances)) {
    if (series.contains(text(i, "series_id")) && matches(q.instances, i)) instances.push_back(text(i, "_id"));
  }
  counts.patients = static_cast<std::int64_t>(patients.size());
  counts.studies = static_cast<std::int64_t>(existing.size());
  counts.series = static_cast<std::int64_t>(series.size());
  counts.instances = static_cast<std::int64_t>(instances.size());
  if (level_ids != nullptr) {
    if (q.level == Kind::kStudies) level_ids->assign(existing.begin(), existing.end());
    if (q.level == Kind::kSeries) level_ids->assign(series.begin(), series.end());
    if (q.level == Kind::kInstances) {
      *level_ids = instances;
      std::sort(level_ids->begin(), level_ids->end());
    }
  }
  return counts;
}

struct Catalogue {
  std::unique_ptr<TestDatabase> db;
  std::unique_ptr<Store> store;
};

Catalogue& Shared() {
  static Catalogue catalogue;
  if (!catalogue.store) {
    catalogue.db = std::make_unique<TestDatabase>("cohort");
    catalogue.store = OpenStore(catalogue.db->uri());
    for (const auto& [kind, list] : Documents()) {
      catalogue.store->Write([&](Session& s) {
        for (const auto& d : list) s.Insert(kind, d);
      });
    }
  }
  return catalogue;
}

// The shared catalogue is closed and its database dropped once, after every suite, while the process can still talk
// to the server (gtest owns the environment).
class CloseCatalogue : public ::testing::Environment {
 public:
  void TearDown() override {
    Shared().store.reset();
    Shared().db.reset();
  }
};
[[maybe_unused]] ::testing::Environment* const kCloseCatalogue =
    ::testing::AddGlobalTestEnvironment(std::make_unique<CloseCatalogue>().release());

class CohortConformanceStore : public ::testing::TestWithParam<CohortCase> {
 protected:
  void SetUp() override { META_DB_REQUIRE_TEST_BACKEND(); }
};

std::string CaseName(const ::testing::TestParamInfo<CohortCase>& info) {
  std::string name = info.param.name;
  for (char& ch : name) {
    if (std::isalnum(static_cast<unsigned char>(ch)) == 0) ch = '_';
  }
  return "c" + std::to_string(info.index) + "_" + name;
}

TEST_P(CohortConformanceStore, Case) {
  const CohortCase& c = GetParam();
  if (c.error) {
    EXPECT_THROW(db_api::ParseCohortRequest(c.request), Error);
    return;
  }
  CohortQuery q = db_api::ParseCohortRequest(c.request);
  q.page.as_json_text = false;
  CohortResult result;
  Shared().store->Read([&](Session& s) { result = s.FindCohort(q); });
  EXPECT_EQ(Ids(result.page.results), c.expected_ids) << "ids and their order";
  EXPECT_EQ(result.page.total, c.expected_total);
  const json::object counts = db_api::CountsJson(result.counts);
  EXPECT_EQ(counts, c.expected_counts);
  std::vector<std::string> reference_ids;
  const CohortCounts reference = Reference(Documents(), q, &reference_ids);
  EXPECT_EQ(db_api::CountsJson(reference), c.expected_counts) << "the expected counts disagree with the definition";
  // Ids-only mode pages through the same set in _id order, two at a time.
  CohortQuery ids = q;
  ids.ids = CohortIds{.after = std::nullopt, .limit = 2};
  ids.count = false;
  std::vector<std::string> paged;
  for (int guard = 0; guard < 20; ++guard) {
    CohortResult page;
    Shared().store->Read([&](Session& s) { page = s.FindCohort(ids); });
    for (const ObjectId& id : page.ids) paged.push_back(id.ToHex());
    if (page.ids.size() < 2) break;
    ids.ids->after = page.ids.back();
  }
  EXPECT_EQ(paged, reference_ids) << "ids-only pages";
}

INSTANTIATE_TEST_SUITE_P(Cases, CohortConformanceStore, ::testing::ValuesIn(Cases()), CaseName);

TEST(CohortConformanceStoreLimits, IdsPageAboveTenThousandIsRefused) {
  META_DB_REQUIRE_TEST_BACKEND();
  CohortQuery q;
  q.ids = CohortIds{.after = std::nullopt, .limit = kMaxCohortIdsPage + 1};
  EXPECT_THROW(Shared().store->Read([&](Session& s) { s.FindCohort(q); }), Error);
  q.ids->limit = kMaxCohortIdsPage;
  EXPECT_NO_THROW(Shared().store->Read([&](Session& s) { s.FindCohort(q); }));
}

}  // namespace
}  // namespace meta_db::query::testing
