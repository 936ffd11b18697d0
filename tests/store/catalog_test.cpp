// Catalog invariants on the store under test (META_DB_TEST_BACKEND: SQLite or MongoDB): summaries, instance lists,
// timestamps, references, cascades, concurrent writers.
#include "catalog/catalog.hpp"
#include "common/error.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <thread>

namespace meta_db {
namespace {

namespace json = boost::json;

class CatalogTest : public ::testing::Test {
 protected:
  Document Create(Kind kind, Document doc) {
    Document out;
    store_->Write([&](Session& s) { out = catalog::Create(s, kind, std::move(doc)); });
    return out;
  }
  std::optional<Document> Get(Kind kind, const json::value& id) {
    std::optional<Document> out;
    store_->Read([&](Session& s) { out = s.Get(kind, *ObjectId::Parse(id.as_string())); });
    return out;
  }
  Errc ErrorOf(const std::function<void(Session&)>& fn) {
    try {
      store_->Write(fn);
    } catch (const Error& error) {
      return error.code();
    }
    return Errc::kInternal;
  }
  ObjectId Id(const Document& doc) { return *ObjectId::Parse(doc.at("_id").as_string()); }

  void SetUp() override {
    META_DB_REQUIRE_TEST_BACKEND();
    db_ = std::make_unique<testing::TestDatabase>("c");
    store_ = OpenStore(db_->uri());
  }
  void TearDown() override {
    store_.reset();
    db_.reset();
  }

  std::unique_ptr<testing::TestDatabase> db_;
  std::unique_ptr<Store> store_;
};

TEST_F(CatalogTest, SeriesAndInstancesKeepParentSummaries) {
  const Document study = Create(Kind::kStudies, {{"study_instance_uid", "1.1"}});
  EXPECT_TRUE(study.at("series").as_array().empty());
  EXPECT_TRUE(study.contains("created_at"));
  const Document series = Create(Kind::kSeries, {{"series_instance_uid", "1.1.1"},
                                                 {"study_id", study.at("_id")},
                                                 {"series_number", 2},
                                                 {"modality", "CT"},
                                                 {"series_description", "AX"}});
  EXPECT_EQ(series.at("num_instances"), 0);
  EXPECT_TRUE(series.at("embeddings_id").is_null());
  EXPECT_EQ(series.at("_search_text"), "CT AX");
  auto stored_study = Get(Kind::kStudies, study.at("_id"));
  ASSERT_EQ(stored_study->at("series").as_array().size(), 1u);
  EXPECT_EQ(stored_study->at("series").as_array()[0].at("series_id"), series.at("_id"));
  EXPECT_EQ(stored_study->at("series").as_array()[0].at("modality"), "CT");

  for (int n : {2, 1}) {
    Create(Kind::kInstances, {{"sop_instance_uid", "1.1.1." + std::to_string(n)},
                              {"series_id", series.at("_id")},
                              {"instance_number", n}});
  }
  auto stored_series = Get(Kind::kSeries, series.at("_id"));
  EXPECT_EQ(stored_series->at("num_instances"), 2);
  ASSERT_EQ(stored_series->at("instances").as_array().size(), 2u);
}

TEST_F(CatalogTest, ChildWithUnknownParentIsUnprocessable) {
  EXPECT_EQ(ErrorOf([](Session& s) {
              catalog::Create(s, Kind::kSeries, {{"series_instance_uid", "x"}, {"study_id", ObjectId().ToHex()}});
            }),
            Errc::kUnprocessable);
  EXPECT_EQ(ErrorOf([](Session& s) { catalog::Create(s, Kind::kInstances, {{"sop_instance_uid", "x"}}); }),
            Errc::kUnprocessable);
}

TEST_F(CatalogTest, ServerOwnedAndDerivedFieldsCannotBePatched) {
  const Document study = Create(Kind::kStudies, {{"study_instance_uid", "1.1"}});
  for (const char* field : {"_id", "created_at", "updated_at", "series"}) {
    EXPECT_EQ(ErrorOf([&](Session& s) { catalog::Patch(s, Kind::kStudies, Id(study), {{field, "x"}}); }),
              Errc::kUnprocessable)
        << field;
  }
}

TEST_F(CatalogTest, PatchMovesUpdatedAtOnlyOnRealChange) {
  const Document study = Create(Kind::kStudies, {{"study_instance_uid", "1.1"}, {"patient_id", "P"}});
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  Document same;
  store_->Write([&](Session& s) { same = catalog::Patch(s, Kind::kStudies, Id(study), {{"patient_id", "P"}}); });
  EXPECT_EQ(same.at("updated_at"), study.at("updated_at"));
  Document changed;
  store_->Write([&](Session& s) { changed = catalog::Patch(s, Kind::kStudies, Id(study), {{"patient_id", "Q"}}); });
  EXPECT_NE(changed.at("updated_at"), study.at("updated_at"));
  EXPECT_EQ(changed.at("created_at"), study.at("created_at"));
}

TEST_F(CatalogTest, PutIfChangedIgnoresTimestampsOnEitherSide) {
  const Document study = Create(Kind::kStudies, {{"study_instance_uid", "1.9"}, {"patient_id", "P"}});
  Document same_content = study;
  same_content.erase("created_at");
  same_content.erase("updated_at");
  store_->Write([&](Session& s) {
    EXPECT_EQ(catalog::PutIfChanged(s, Kind::kStudies, same_content), catalog::PutResult::kUnchanged);
    same_content["patient_id"] = "Q";
    EXPECT_EQ(catalog::PutIfChanged(s, Kind::kStudies, same_content), catalog::PutResult::kUpdated);
  });
  EXPECT_EQ(Get(Kind::kStudies, study.at("_id"))->at("created_at"), study.at("created_at"));
}

TEST_F(CatalogTest, MovingAnInstanceUpdatesBothSeries) {
  const Document study = Create(Kind::kStudies, {{"study_instance_uid", "1"}});
  const Document a = Create(Kind::kSeries, {{"series_instance_uid", "a"}, {"study_id", study.at("_id")}});
  const Document b = Create(Kind::kSeries, {{"series_instance_uid", "b"}, {"study_id", study.at("_id")}});
  const Document instance = Create(Kind::kInstances, {{"sop_instance_uid", "i"}, {"series_id", a.at("_id")}});
  store_->Write([&](Session& s) { catalog::Patch(s, Kind::kInstances, Id(instance), {{"series_id", b.at("_id")}}); });
  EXPECT_EQ(Get(Kind::kSeries, a.at("_id"))->at("num_instances"), 0);
  EXPECT_EQ(Get(Kind::kSeries, b.at("_id"))->at("num_instances"), 1);
}

TEST_F(CatalogTest, DeleteWithChildrenNeedsCascade) {
  const Document study = Create(Kind::kStudies, {{"study_instance_uid", "1"}});
  const Document series = Create(Kind::kSeries, {{"series_instance_uid", "s"}, {"study_id", study.at("_id")}});
  Create(Kind::kInstances, {{"sop_instance_uid", "i1"}, {"series_id", series.at("_id")}});
  Create(Kind::kInstances, {{"sop_instance_uid", "i2"}, {"series_id", series.at("_id")}});
  EXPECT_EQ(ErrorOf([&](Session& s) { catalog::Remove(s, Kind::kStudies, Id(study), false); }), Errc::kConflict);
  EXPECT_EQ(ErrorOf([&](Session& s) { catalog::Remove(s, Kind::kSeries, Id(series), false); }), Errc::kConflict);
  store_->Write([&](Session& s) { catalog::Remove(s, Kind::kStudies, Id(study), true); });
  store_->Read([&](Session& s) {
    const StoreCounts counts = s.Counts();
    EXPECT_EQ(counts.studies, 0);
    EXPECT_EQ(counts.series, 0);
    EXPECT_EQ(counts.instances, 0);
  });
  EXPECT_EQ(ErrorOf([&](Session& s) { catalog::Remove(s, Kind::kStudies, Id(study), true); }), Errc::kNotFound);
}

TEST_F(CatalogTest, DeletingASeriesUpdatesTheStudySummary) {
  const Document study = Create(Kind::kStudies, {{"study_instance_uid", "1"}});
  const Document series = Create(Kind::kSeries, {{"series_instance_uid", "s"}, {"study_id", study.at("_id")}});
  store_->Write([&](Session& s) { catalog::Remove(s, Kind::kSeries, Id(series), false); });
  EXPECT_TRUE(Get(Kind::kStudies, study.at("_id"))->at("series").as_array().empty());
}

TEST_F(CatalogTest, ConcurrentInstanceCreationLosesNothing) {
  const Document study = Create(Kind::kStudies, {{"study_instance_uid", "1"}});
  const Document series = Create(Kind::kSeries, {{"series_instance_uid", "s"}, {"study_id", study.at("_id")}});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        Create(Kind::kInstances, {{"sop_instance_uid", std::to_string(t) + "." + std::to_string(i)},
                                  {"series_id", series.at("_id")}});
      }
    });
  }
  for (auto& thread : threads) thread.join();
  const auto stored = Get(Kind::kSeries, series.at("_id"));
  EXPECT_EQ(stored->at("num_instances"), 40);
  EXPECT_EQ(stored->at("instances").as_array().size(), 40u);
}

}  // namespace
}  // namespace meta_db
