// LIDC reads through the real binary and the API on the back-end under test: a synth archive's LidcReadMessage files
// become annotations whose counts match the manifest, series summaries drive GET /series filters, malformed reads are
// registered, reads whose series is missing are kept and linked when it arrives, and re-ingest is incremental.
#include "common/json_io.hpp"
#include "db_api/api.hpp"
#include "db_api/router.hpp"
#include "store/store.hpp"
#include "test_support.hpp"

#include <boost/json/serialize.hpp>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

namespace meta_db {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;
using testing::MetaDbBinary;
using testing::RunCommand;

std::int64_t Int(const json::object& doc, std::string_view key) { return doc.at(key).to_number<std::int64_t>(); }

class AnnotationsIngest : public ::testing::Test {
 protected:
  void SetUp() override {
    META_DB_REQUIRE_TEST_BACKEND();
    db_ = std::make_unique<testing::TestDatabase>("annotations");
    archive_ = dir_.path() / "archive";
    const auto made = RunCommand({MetaDbBinary(), "synth", "--patients", "12", "--out", archive_.string(), "--small"});
    ASSERT_EQ(made.exit_code, 0) << made.err;
    manifest_ = ParseJsonObject(testing::ReadFile(archive_ / "manifest.json"));
  }

  json::object Ingest(const fs::path& archive) {
    const auto result = RunCommand({MetaDbBinary(), "ingest", archive.string(), "--db", db_->uri(), "--quiet"});
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return ParseJsonObject(result.out.substr(result.out.find('{')));
  }

  json::object Get(const std::string& path, std::vector<std::pair<std::string, std::string>> query = {}) {
    store_ = OpenStore(db_->uri());
    db_api::ApiContext ctx(*store_, "", "");
    db_api::Router router(db_api::BuildRoutes(ctx));
    db_api::Request request;
    request.method = "GET";
    request.path = path;
    request.query = std::move(query);
    request.peer = "127.0.0.1";
    const db_api::Response response = router.Dispatch(request, nullptr);
    EXPECT_EQ(response.status, 200) << path << ": " << response.body;
    return ParseJsonObject(response.body);
  }

  // Sum of a series summary field over every series.
  std::int64_t SummaryTotal(const std::string& key) {
    std::int64_t total = 0;
    const json::object page = Get("/series", {{"limit", "1000"}});
    for (const json::value& series : page.at("results").as_array()) {
      if (const auto* a = series.as_object().if_contains("annotations")) total += Int(a->as_object(), key);
    }
    return total;
  }

  testing::TempDir dir_;
  fs::path archive_;
  json::object manifest_;
  std::unique_ptr<testing::TestDatabase> db_;
  std::unique_ptr<Store> store_;
};

TEST_F(AnnotationsIngest, SynthReadsMatchTheManifestAndAreQueryable) {
  const json::object& expected = manifest_.at("annotations").as_object();
  ASSERT_GT(Int(expected, "annotations"), 0) << json::serialize(manifest_);
  ASSERT_GT(Int(expected, "malformed"), 0);
  const json::object summary = Ingest(archive_);
  const json::object& read = summary.at("annotations").as_object();
  EXPECT_EQ(Int(read, "files"), Int(expected, "files"));
  EXPECT_EQ(Int(read, "unlinked"), 0);
  // Every mark is a document; kinds add up to the manifest.
  EXPECT_EQ(Int(Get("/annotations", {{"kind", "nodule"}, {"limit", "1"}}), "total"), Int(expected, "annotations"));
  EXPECT_EQ(Int(Get("/annotations", {{"kind", "small_nodule"}, {"limit", "1"}}), "total"), Int(expected, "small_nodules"));
  EXPECT_EQ(Int(Get("/annotations", {{"kind", "non_nodule"}, {"limit", "1"}}), "total"), Int(expected, "non_nodules"));
  // Series summaries: readers, physical nodules (the synth's nodules lie apart: one cluster each).
  EXPECT_EQ(SummaryTotal("readers"), Int(expected, "readers"));
  EXPECT_EQ(SummaryTotal("nodules"), Int(expected, "nodules"));
  EXPECT_EQ(SummaryTotal("annotations"), Int(expected, "annotations"));
  EXPECT_EQ(Int(Get("/series", {{"min_nodules", "1"}, {"limit", "1"}}), "total"), Int(expected, "series_with_nodules"));
  // Malformed reads are in the error register, and did not stop the run.
  std::int64_t malformed = 0;
  const json::object errors = Get("/errors", {{"limit", "1000"}});
  for (const json::value& error : errors.at("results").as_array()) {
    if (std::string(error.at("reason").as_string()).find("LIDC XML") != std::string::npos) ++malformed;
  }
  EXPECT_EQ(malformed, Int(expected, "malformed"));
  // Filters agree with the documents: every series that min_malignancy=4 returns has such a nodule, and only those.
  const json::object big = Get("/series", {{"min_max_diameter_mm", "10"}, {"min_malignancy", "4"}, {"limit", "1000"}});
  std::int64_t by_hand = 0;
  const json::object every = Get("/series", {{"limit", "1000"}});
  for (const json::value& series : every.at("results").as_array()) {
    const auto* a = series.as_object().if_contains("annotations");
    if (a == nullptr || !a->as_object().contains("max_malignancy")) continue;
    if (Int(a->as_object(), "max_malignancy") >= 4 && a->as_object().at("max_diameter_mm").to_number<double>() >= 10) {
      ++by_hand;
    }
  }
  EXPECT_EQ(Int(big, "total"), by_hand);
  // A series' nodules: measured, linked to instances, clustered.
  const json::object first = Get("/series", {{"min_nodules", "1"}, {"limit", "1"}}).at("results").at(0).as_object();
  const json::object nodules = Get("/series/" + std::string(first.at("_id").as_string()) + "/annotations");
  EXPECT_EQ(static_cast<std::int64_t>(nodules.at("nodules").as_array().size()), Int(first.at("annotations").as_object(), "nodules"));
  for (const json::value& mark : nodules.at("results").as_array()) {
    if (mark.at("kind") != "nodule") continue;
    EXPECT_GT(mark.at("diameter_mm").to_number<double>(), 3.0);
    EXPECT_GT(mark.at("volume_mm3").to_number<double>(), 0.0);
    for (const json::value& roi : mark.at("rois").as_array()) EXPECT_TRUE(roi.as_object().contains("instance_id"));
  }
  for (const json::value& nodule : nodules.at("nodules").as_array()) {
    EXPECT_GE(Int(nodule.as_object(), "readers"), 1);
    EXPECT_TRUE(nodule.as_object().at("median_ratings").as_object().contains("malignancy"));
  }
  // POST /query reaches the collection too; /stats counts it.
  EXPECT_EQ(Int(Get("/stats").at("counts").as_object(), "annotations"),
            Int(expected, "annotations") + Int(expected, "small_nodules") + Int(expected, "non_nodules"));

  // Unchanged: nothing read again.
  const json::object again = Ingest(archive_);
  EXPECT_EQ(Int(again.at("annotations").as_object(), "files"), 0);
}

TEST_F(AnnotationsIngest, ReadsWaitForTheirSeriesAndFollowTheirFile) {
  // The reads alone first (their own folder, any names): kept without a series, then linked when the images arrive.
  const fs::path work = dir_.path() / "work";
  std::vector<fs::path> xml;
  for (const auto& entry : fs::recursive_directory_iterator(archive_)) {
    if (entry.path().extension() == ".xml" && entry.path().filename() != "999.xml") xml.push_back(entry.path());
  }
  ASSERT_FALSE(xml.empty());
  fs::create_directories(work / "reads");
  std::map<std::string, fs::path> read_of;  // series UID -> its read in work/reads
  for (std::size_t i = 0; i < xml.size(); ++i) {
    const fs::path copy = work / "reads" / ("read-" + std::to_string(i) + ".txt");
    fs::copy_file(xml[i], copy);
    read_of[xml[i].parent_path().filename().string()] = copy;
  }
  const json::object alone = Ingest(work);
  const std::int64_t marks = Int(alone.at("annotations").as_object(), "unlinked");
  EXPECT_GT(marks, 0);
  EXPECT_EQ(Int(alone.at("annotations").as_object(), "linked"), 0);
  fs::copy(archive_, work / "images", fs::copy_options::recursive);
  for (const auto& entry : fs::recursive_directory_iterator(work / "images")) {
    if (entry.path().extension() == ".xml") fs::remove(entry.path());
  }
  const json::object images = Ingest(work);
  EXPECT_EQ(Int(images.at("annotations").as_object(), "unlinked"), 0);
  EXPECT_EQ(Int(images.at("annotations").as_object(), "linked"), marks);

  // A read changed (another series' read in its place): its marks replaced; removed: gone, and the summary too.
  auto count = [&](const std::string& uid) {
    return Int(Get("/annotations", {{"series_instance_uid", uid}, {"limit", "1"}}), "total");
  };
  ASSERT_GE(read_of.size(), 2u);
  const auto first = read_of.begin();
  const auto second = std::next(first);
  const std::int64_t first_marks = count(first->first), second_marks = count(second->first);
  ASSERT_GT(first_marks, 0);
  fs::copy_file(second->second, first->second, fs::copy_options::overwrite_existing);
  const json::object changed = Ingest(work);
  EXPECT_EQ(Int(changed.at("annotations").as_object(), "files"), 1);
  EXPECT_EQ(count(first->first), 0);
  EXPECT_EQ(count(second->first), 2 * second_marks);
  EXPECT_TRUE(Get("/series", {{"series_instance_uid", first->first}}).at("results").at(0).as_object().contains(
                  "annotations") == false);
  fs::remove(first->second);
  Ingest(work);
  EXPECT_EQ(count(second->first), second_marks);
}

}  // namespace
}  // namespace meta_db
