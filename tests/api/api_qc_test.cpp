// Series geometry/QC facets (series.qc) end to end on the back-end under test: the real `meta_db synth`, `ingest`,
// `check` and `serve`, compared with the synth manifest's expected flags, with a clean ingest of a reduced archive,
// and through the API (created instances, GET /series qc_flag/kernel_class, POST /query on qc.*, /fields, /stats).
#include "http_client.hpp"
#include "server_process.hpp"
#include "test_support.hpp"

#include "catalog/series_qc.hpp"
#include "store/store.hpp"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <unistd.h>

namespace meta_db::api_test {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;
using testing::MetaDbBinary;
using testing::RunCommand;

std::string Unique(const std::string& prefix) {
  static std::atomic<int> counter{0};
  return prefix + "." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1));
}

json::object Synth(const fs::path& dir, int patients) {
  const auto result = RunCommand(
      {MetaDbBinary(), "synth", "--patients", std::to_string(patients), "--out", dir.string(), "--small"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  return json::parse(testing::ReadFile(dir / "manifest.json")).as_object();
}

void Ingest(const fs::path& archive, const std::string& db) {
  const auto result = RunCommand({MetaDbBinary(), "ingest", archive.string(), "--db", db, "--quiet"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
}

// Every series of a catalogue by SeriesInstanceUID, read through the store interface.
std::map<std::string, json::object> SeriesByUid(const std::string& db) {
  std::map<std::string, json::object> out;
  auto store = OpenStore(db, {.read_only = true});
  store->Read([&](Session& session) {
    session.VisitAll(Kind::kSeries, 500, [&](std::vector<Document>& docs) {
      for (Document& doc : docs) out.emplace(std::string(doc.at("series_instance_uid").as_string()), std::move(doc));
    });
  });
  return out;
}

std::set<std::string> Flags(const json::value& qc) {
  std::set<std::string> flags;
  for (const json::value& flag : qc.at("flags").as_array()) flags.emplace(flag.as_string());
  return flags;
}

std::set<std::string> Strings(const json::value& array) {
  std::set<std::string> out;
  for (const json::value& v : array.as_array()) out.emplace(v.as_string());
  return out;
}

std::int64_t Total(HttpClient& client, const std::string& target) {
  const HttpResponse response = client.Get(target);
  EXPECT_EQ(response.status, 200) << target << ": " << response.body;
  return response.status == 200 ? response.Json().at("total").to_number<std::int64_t>() : -1;
}

std::int64_t QueryTotal(HttpClient& client, const json::object& filter) {
  const HttpResponse response =
      client.Post("/query", json::object{{"collection", "series"}, {"filter", filter}, {"limit", 0}});
  EXPECT_EQ(response.status, 200) << json::serialize(filter) << ": " << response.body;
  return response.status == 200 ? response.Json().at("total").to_number<std::int64_t>() : -1;
}

// One synth archive of 16 patients (every defect of synth/geometry_defects.hpp) ingested once for the suite.
class QcTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::BackendUnavailable().empty()) return;
    dir_ = new testing::TempDir();
    db_ = new testing::TestDatabase("qc");
    manifest_ = new json::object(Synth(dir_->path() / "archive", 16));
    Ingest(dir_->path() / "archive", db_->uri());
  }
  static void TearDownTestSuite() {
    delete db_;
    delete manifest_;
    delete dir_;
    db_ = nullptr;
    manifest_ = nullptr;
    dir_ = nullptr;
  }
  void SetUp() override { META_DB_REQUIRE_TEST_BACKEND(); }

  static testing::TempDir* dir_;
  static testing::TestDatabase* db_;
  static json::object* manifest_;
};
testing::TempDir* QcTest::dir_ = nullptr;
testing::TestDatabase* QcTest::db_ = nullptr;
json::object* QcTest::manifest_ = nullptr;

TEST_F(QcTest, FacetsEqualTheManifestsExpectations) {
  const auto series = SeriesByUid(db_->uri());
  const json::object& expected = manifest_->at("qc_flags").as_object();
  ASSERT_EQ(series.size(), expected.size());
  std::set<std::string> defects_seen;
  for (const auto& [uid, doc] : series) {
    SCOPED_TRACE(uid);
    ASSERT_TRUE(expected.contains(uid));
    const json::object& qc = doc.at("qc").as_object();
    EXPECT_EQ(Flags(qc), Strings(expected.at(uid)));
    for (const std::string& flag : Flags(qc)) defects_seen.insert(flag);
    EXPECT_EQ(qc.at("slices"), doc.at("num_instances"));
    if (doc.at("modality") != "CT") {
      EXPECT_FALSE(qc.contains("z_spacing"));
      continue;
    }
    // Synth steps along z by the slice thickness; the facets measure that from the positions alone.
    const double thickness = doc.at("metadata").at("SliceThickness").to_number<double>();
    EXPECT_NEAR(qc.at("z_spacing").at("median").to_number<double>(), thickness, 1e-6);
    EXPECT_EQ(qc.at("pixel_spacing"), doc.at("metadata").at("PixelSpacing"));
    EXPECT_EQ(qc.at("kernel_class"),
              json::value(catalog::KernelClass(doc.at("metadata").at("ConvolutionKernel").as_string())));
    const auto flags = Flags(qc);
    EXPECT_EQ(qc.at("gaps"), flags.contains("missing_slices") ? 1 : 0);
    EXPECT_EQ(qc.at("duplicate_positions"), flags.contains("duplicate_positions") ? 1 : 0);
    EXPECT_EQ(qc.at("instance_number_holes"), flags.contains("instance_number_holes") ? 1 : 0);
    EXPECT_EQ(qc.at("mixed_orientation"), flags.contains("mixed_orientation"));
    EXPECT_EQ(qc.at("regular_spacing"), !flags.contains("missing_slices"));
    if (flags.empty()) {
      EXPECT_EQ(qc.at("z_spacing").at("min"), qc.at("z_spacing").at("max"));
    }
  }
  for (const char* flag : {"missing_slices", "duplicate_positions", "instance_number_holes", "mixed_orientation",
                           "no_geometry"}) {
    EXPECT_TRUE(defects_seen.contains(flag)) << flag << " never raised: the archive lacks the defect";
  }
}

TEST_F(QcTest, KernelTableClassifiesVendorNames) {
  const std::map<std::string, std::string> table = {
      {"B30f", "standard"}, {"B70f", "sharp"},  {"B20s", "soft"},    {"Br40", "standard"}, {"I31f", "standard"},
      {"STANDARD", "standard"}, {"BONE", "sharp"}, {"LUNG", "sharp"}, {"SOFT", "soft"},    {"B", "standard"},
      {"C", "sharp"},       {"D", "sharp"},     {"L", "sharp"},      {"A", "soft"},        {"FC01", "standard"},
      {"FC51", "sharp"},    {"", "unknown"},    {"XYZ-9", "unknown"}};
  for (const auto& [name, expected] : table) EXPECT_EQ(catalog::KernelClass(name), expected) << name;
}

TEST_F(QcTest, QueryParamsQueryAndDiscoveryServeQc) {
  const auto series = SeriesByUid(db_->uri());
  ServerProcess server(dir_->path(), db_->uri(), {}, {});
  HttpClient client(server.port());
  for (std::string_view flag : catalog::kQcFlags) {
    std::int64_t expected = 0;
    for (const auto& [uid, doc] : series) expected += Flags(doc.at("qc")).contains(std::string(flag)) ? 1 : 0;
    EXPECT_EQ(Total(client, "/series?qc_flag=" + std::string(flag)), expected) << flag;
    EXPECT_EQ(QueryTotal(client, {{"qc.flags", flag}}), expected) << flag;
  }
  for (std::string_view kernel_class : catalog::kKernelClasses) {
    std::int64_t expected = 0;
    for (const auto& [uid, doc] : series) expected += doc.at("qc").at("kernel_class") == json::value(json::string_view(kernel_class.data(), kernel_class.size())) ? 1 : 0;
    EXPECT_EQ(Total(client, "/series?kernel_class=" + std::string(kernel_class)), expected) << kernel_class;
  }
  EXPECT_EQ(client.Get("/series?qc_flag=bogus").status, 400);
  EXPECT_EQ(client.Get("/series?kernel_class=medium").status, 400);
  // Nested numeric and array paths of qc through the filter language.
  std::int64_t wide = 0, clean = 0;
  for (const auto& [uid, doc] : series) {
    const json::object& qc = doc.at("qc").as_object();
    if (qc.contains("z_spacing") && qc.at("z_spacing").at("median").to_number<double>() >= 2.0) ++wide;
    if (qc.at("flags").as_array().empty()) ++clean;
  }
  EXPECT_EQ(QueryTotal(client, {{"qc.z_spacing.median", {{"$gte", 2.0}}}}), wide);
  EXPECT_EQ(QueryTotal(client, {{"qc.flags", {{"$size", 0}}}}), clean);
  EXPECT_EQ(QueryTotal(client, {{"qc.flags", {{"$in", {"mixed_orientation", "duplicate_positions"}}}}}), 2);
  EXPECT_EQ(QueryTotal(client, {{"qc.gaps", {{"$gt", 0}}}, {"qc.regular_spacing", false}}), 1);
  // Discovery: /fields lists qc's nested paths with their values, /stats counts flags and kernel classes.
  const json::value fields = client.Get("/fields?collection=series").Json();
  std::map<std::string, json::object> by_path;
  for (const json::value& field : fields.at("fields").as_array()) {
    by_path.emplace(std::string(field.at("path").as_string()), field.as_object());
  }
  for (const char* path : {"qc.kernel_class", "qc.flags", "qc.z_spacing.median", "qc.gaps"}) {
    EXPECT_TRUE(by_path.contains(path)) << path;
  }
  bool flag_value = false;
  for (const json::value& v : by_path["qc.flags"].at("values").as_array()) {
    flag_value = flag_value || v.at("value") == "missing_slices";
  }
  EXPECT_TRUE(flag_value) << json::serialize(by_path["qc.flags"]);
  const json::value stats = client.Get("/stats").Json();
  std::int64_t missing = -1;
  for (const json::value& entry : stats.at("distributions").at("qc_flags").as_array()) {
    if (entry.at("value") == "missing_slices") missing = entry.at("count").to_number<std::int64_t>();
  }
  EXPECT_EQ(missing, 1);
  EXPECT_FALSE(stats.at("distributions").at("qc_kernel_class").as_array().empty());
  EXPECT_EQ(server.Stop(), 0) << server.Log();
}

// On the suite's catalogue, which it leaves as it found it.
TEST_F(QcTest, CheckRepairRestoresATamperedQc) {
  const testing::TestDatabase& db = *db_;
  const auto before = SeriesByUid(db.uri());
  const std::string uid = before.begin()->first;
  {
    auto store = OpenStore(db.uri());
    store->Write([&](Session& session) {
      auto doc = session.GetByKey(Kind::kSeries, uid);
      ASSERT_TRUE(doc);
      (*doc)["qc"].as_object()["gaps"] = 99;
      (*doc)["qc"].as_object()["flags"] = json::array{"missing_slices"};
      session.Replace(Kind::kSeries, *doc);
    });
  }
  const auto check = RunCommand({MetaDbBinary(), "check", "--db", db.uri(), "--quiet"});
  EXPECT_EQ(check.exit_code, 1) << check.out << check.err;
  EXPECT_NE(check.out.find("series.qc"), std::string::npos) << check.out;
  const auto repair = RunCommand({MetaDbBinary(), "check", "--db", db.uri(), "--repair", "--quiet"});
  EXPECT_EQ(repair.exit_code, 0) << repair.out << repair.err;
  EXPECT_EQ(SeriesByUid(db.uri()).at(uid).at("qc"), before.at(uid).at("qc"));
  EXPECT_EQ(RunCommand({MetaDbBinary(), "check", "--db", db.uri(), "--quiet"}).exit_code, 0);
}

// A removed slice and a changed file, re-ingested, leave exactly the qc of a clean ingest of the archive as it is.
TEST(QcIncremental, ReingestEqualsACleanIngestOfTheChangedArchive) {
  META_DB_REQUIRE_TEST_BACKEND();
  testing::TempDir dir;
  const fs::path archive = dir / "archive";
  Synth(archive, 4);
  testing::TestDatabase incremental("qc_incremental");
  Ingest(archive, incremental.uri());
  // Patient 2's CT series is clean: remove one of its middle slices.
  fs::path series_dir;
  for (const auto& entry : fs::recursive_directory_iterator(archive / "LIDC-IDRI-0002")) {
    if (entry.is_regular_file() && entry.path().filename() == "000020.dcm") series_dir = entry.path().parent_path();
  }
  ASSERT_FALSE(series_dir.empty());
  const std::string uid = series_dir.filename().string();
  ASSERT_TRUE(fs::remove(series_dir / "000020.dcm"));
  // A changed file: patient 1's slice 30 overwritten with slice 31's content (its SOP Instance UID too), so slice 30's
  // instance goes and the copy is registered as a duplicate.
  fs::path other_dir;
  for (const auto& entry : fs::recursive_directory_iterator(archive / "LIDC-IDRI-0001")) {
    if (entry.is_regular_file() && entry.path().filename() == "000030.dcm") other_dir = entry.path().parent_path();
  }
  ASSERT_FALSE(other_dir.empty());
  fs::copy_file(other_dir / "000031.dcm", other_dir / "000030.dcm", fs::copy_options::overwrite_existing);
  Ingest(archive, incremental.uri());
  testing::TestDatabase clean("qc_clean");
  Ingest(archive, clean.uri());
  const auto got = SeriesByUid(incremental.uri());
  const auto want = SeriesByUid(clean.uri());
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [series_uid, doc] : want) {
    SCOPED_TRACE(series_uid);
    ASSERT_TRUE(got.contains(series_uid));
    EXPECT_EQ(got.at(series_uid).at("qc"), doc.at("qc"));
    EXPECT_EQ(got.at(series_uid).at("num_instances"), doc.at("num_instances"));
  }
  EXPECT_TRUE(Flags(got.at(uid).at("qc")).contains("missing_slices"));
  EXPECT_EQ(got.at(uid).at("qc").at("gaps"), 1);
  const std::string other_uid = other_dir.filename().string();
  EXPECT_TRUE(Flags(got.at(other_uid).at("qc")).contains("missing_slices"));
  EXPECT_EQ(RunCommand({MetaDbBinary(), "check", "--db", incremental.uri(), "--quiet"}).exit_code, 0);
}

// Instances created, changed and deleted through the API keep their series' qc.
TEST(QcApi, CreatedInstancesUpdateTheSeriesQc) {
  META_DB_REQUIRE_TEST_BACKEND();
  testing::TempDir dir;
  testing::TestDatabase db("qc_api");
  OpenStore(db.uri());  // `serve` serves a catalogue, it does not create one
  ServerProcess server(dir.path(), db.uri(), {}, {});
  HttpClient client(server.port());
  const HttpResponse study = client.Post("/studies", {{"study_instance_uid", Unique("1.2.826.1")}});
  ASSERT_EQ(study.status, 201) << study.body;
  const HttpResponse created = client.Post(
      "/series", {{"study_id", study.Json().at("_id")},
                  {"series_instance_uid", Unique("1.2.826.2")},
                  {"modality", "CT"},
                  {"metadata", {{"ConvolutionKernel", "B70f"}, {"ImageOrientationPatient", {1, 0, 0, 0, 1, 0}}}}});
  ASSERT_EQ(created.status, 201) << created.body;
  const std::string series(created.Json().at("_id").as_string());
  EXPECT_EQ(Strings(created.Json().at("qc").at("flags")), std::set<std::string>{"no_geometry"});
  // qc is derived: a client's value is not trusted (a document read back from GET may be re-posted)...
  const HttpResponse reposted = client.Post("/series", {{"study_id", study.Json().at("_id")},
                                                        {"series_instance_uid", Unique("1.2.826.2")},
                                                        {"qc", {{"flags", json::array{}}, {"gaps", 7}}}});
  ASSERT_EQ(reposted.status, 201) << reposted.body;
  EXPECT_EQ(reposted.Json().at("qc").at("gaps"), 0);
  EXPECT_EQ(Strings(reposted.Json().at("qc").at("flags")), std::set<std::string>{"no_geometry"});
  // ... and cannot be patched.
  EXPECT_EQ(client.Patch("/series/" + series, {{"qc", {{"gaps", 7}}}}).status, 422);
  std::vector<std::string> ids;
  int number = 0;
  for (double z : {0.0, 2.0, 4.0, 8.0}) {
    const HttpResponse instance = client.Post(
        "/instances", {{"series_id", series},
                       {"sop_instance_uid", Unique("1.2.826.3")},
                       {"instance_number", ++number},
                       {"metadata", {{"ImagePositionPatient", {-100.0, -100.0, z}}, {"PixelSpacing", {0.7, 0.7}}}}});
    ASSERT_EQ(instance.status, 201) << instance.body;
    ids.emplace_back(instance.Json().at("_id").as_string());
  }
  json::value qc = client.Get("/series/" + series).Json().at("qc");
  EXPECT_EQ(qc.at("slices"), 4);
  EXPECT_EQ(qc.at("z_spacing").at("median"), 2.0);
  EXPECT_EQ(qc.at("z_spacing").at("max"), 4.0);
  EXPECT_EQ(qc.at("gaps"), 1);
  EXPECT_EQ(qc.at("kernel_class"), "sharp");
  EXPECT_EQ(qc.at("pixel_spacing"), (json::array{0.7, 0.7}));
  EXPECT_EQ(Flags(qc), std::set<std::string>{"missing_slices"});
  EXPECT_EQ(Total(client, "/series?qc_flag=missing_slices"), 1);
  // Moving the last slice into the gap makes the series regular; a second pixel spacing makes it mixed.
  ASSERT_EQ(client.Patch("/instances/" + ids[3],
                         {{"metadata", {{"ImagePositionPatient", {-100.0, -100.0, 6.0}}, {"PixelSpacing", {0.8, 0.8}}}}})
                .status,
            200);
  qc = client.Get("/series/" + series).Json().at("qc");
  EXPECT_EQ(qc.at("gaps"), 0);
  EXPECT_EQ(qc.at("regular_spacing"), true);
  EXPECT_EQ(Flags(qc), std::set<std::string>{"mixed_pixel_spacing"});
  ASSERT_EQ(client.Delete("/instances/" + ids[1]).status, 204);
  qc = client.Get("/series/" + series).Json().at("qc");
  EXPECT_EQ(qc.at("slices"), 3);
  EXPECT_EQ(qc.at("instance_number_holes"), 1);
  // z 0, 4, 6: steps 4 and 2 around a median of 3 are neither the spacing nor a multiple of it.
  EXPECT_EQ(qc.at("z_spacing").at("median"), 3.0);
  EXPECT_EQ(Flags(qc), (std::set<std::string>{"instance_number_holes", "irregular_spacing", "mixed_pixel_spacing"}));
  EXPECT_EQ(Total(client, "/series?qc_flag=mixed_pixel_spacing"), 1);
  EXPECT_EQ(server.Stop(), 0) << server.Log();
}

}  // namespace
}  // namespace meta_db::api_test
