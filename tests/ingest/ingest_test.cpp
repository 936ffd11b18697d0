// Ingest end to end with the real binary on the back-end under test (META_DB_TEST_BACKEND: a SQLite file or a MongoDB
// database): manifest counts, idempotency, incremental re-ingest, moved files, shards, bad input, pydicom's corpus.
#include "common/json_io.hpp"
#include "ingest_checks.hpp"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>

#include <sqlite3.h>

#include <fstream>
#include <map>
#include <set>

namespace meta_db::testing {
namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

const fs::path kPydicomFiles = "/usr/lib/python3/dist-packages/pydicom/data/test_files";

std::int64_t Int(const json::object& doc, std::string_view key) { return doc.at(key).to_number<std::int64_t>(); }
std::int64_t Int(const json::object& doc, std::string_view key, std::string_view sub) {
  return doc.at(key).as_object().at(sub).to_number<std::int64_t>();
}

std::int64_t BrokenFiles(const json::object& manifest) {
  std::int64_t total = 0;
  for (const auto& [kind, count] : manifest.at("broken_files").as_object()) total += count.to_number<std::int64_t>();
  return total;
}

// Every DICOM file of one series (sorted), found through the catalogue.
std::vector<std::string> PathsOfFirstSeries(Store& store, std::string* series_id) {
  std::vector<std::string> paths;
  store.Read([&](Session& session) {
    query::Query first;
    first.limit = 1;
    const Document series = session.Find(Kind::kSeries, first).results.at(0);
    *series_id = std::string(series.at("_id").as_string());
    for (const Document& instance : session.Children(Kind::kInstances, *ObjectId::Parse(*series_id))) {
      paths.emplace_back(instance.at("path").as_string());
    }
  });
  return paths;
}

// Every directory holding file records (with its trailing '/') and its stored digest.
std::map<std::string, std::optional<std::int64_t>> DirectoryRows(Store& store, std::set<std::string>* record_dirs) {
  std::map<std::string, std::optional<std::int64_t>> rows;
  store.Read([&](Session& session) {
    session.VisitDirectoryDigests("", [&](const DirectoryDigest& row) { rows.emplace(row.directory, row.digest); });
    session.VisitFileRecords("", [&](const FileRecordView& record) { record_dirs->emplace(DirectoryOf(record.path)); });
  });
  return rows;
}

// After an ingest: a row for exactly the directories holding records, each with a digest when none of its files has
// to be read every run.
void ExpectEveryDirectoryDigested(Store& store) {
  std::set<std::string> record_dirs;
  const auto rows = DirectoryRows(store, &record_dirs);
  std::set<std::string> row_dirs;
  for (const auto& [directory, digest] : rows) {
    row_dirs.insert(directory);
    EXPECT_TRUE(digest.has_value()) << directory;
  }
  EXPECT_EQ(row_dirs, record_dirs);
}

void ExecOnFile(const fs::path& file, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(file.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

class IngestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    META_DB_REQUIRE_TEST_BACKEND();
    db_ = std::make_unique<TestDatabase>();
  }
  void TearDown() override {
    extra_dbs_.clear();
    db_.reset();
  }
  static void SetUpTestSuite() {
    archive_dir_ = new TempDir();  // shared by the suite: synth once
    manifest_ = new json::object(Synthesize(archive_dir_->path() / "archive", 3));
  }
  static void TearDownTestSuite() {
    delete manifest_;
    delete archive_dir_;
  }
  // A private copy of the archive for tests that change files.
  fs::path CopyArchive() {
    fs::copy(archive_dir_->path() / "archive", dir_ / "archive", fs::copy_options::recursive);
    return dir_ / "archive";
  }
  fs::path Archive() const { return archive_dir_->path() / "archive"; }
  // The test's own database of the back-end under test.
  std::string Db() const { return db_->uri(); }
  // Another fresh database of the same back-end, dropped with the test.
  std::string OtherDb(std::string_view hint) {
    return extra_dbs_.emplace_back(std::make_unique<TestDatabase>(hint))->uri();
  }

  static TempDir* archive_dir_;
  static json::object* manifest_;
  TempDir dir_;
  std::unique_ptr<TestDatabase> db_;
  std::vector<std::unique_ptr<TestDatabase>> extra_dbs_;
};
TempDir* IngestTest::archive_dir_ = nullptr;
json::object* IngestTest::manifest_ = nullptr;

TEST_F(IngestTest, SynthArchiveGivesExactlyTheManifestCounts) {
  const json::object summary = Ingest(Archive(), Db(), {"--collection", "LIDC-IDRI"});
  const json::object& m = *manifest_;
  EXPECT_EQ(Int(summary, "files_seen"), Int(m, "files_total"));
  EXPECT_EQ(Int(summary, "dicom_parsed"), Int(m, "instances"));
  EXPECT_EQ(Int(summary, "failed") + Int(summary, "incomplete"), BrokenFiles(m));
  EXPECT_EQ(Int(summary, "instances", "inserted"), Int(m, "instances"));
  const json::object stats = Stats(Db());
  EXPECT_EQ(Int(stats, "studies"), Int(m, "studies"));
  EXPECT_EQ(Int(stats, "series"), Int(m, "series"));
  EXPECT_EQ(Int(stats, "instances"), Int(m, "instances"));
  EXPECT_EQ(Int(stats, "errors"), BrokenFiles(m));
  EXPECT_EQ(Int(stats, "collections"), 1);
  auto store = OpenStore(Db());
  ExpectInvariants(*store);
  store->Read([&](Session& session) {
    const auto collection = session.GetByKey(Kind::kCollections, "LIDC-IDRI");
    ASSERT_TRUE(collection);
    EXPECT_EQ(collection->at("cases").as_array().size(), static_cast<std::size_t>(Int(m, "patients")));
    const auto errors = session.Errors(0, 100);
    ASSERT_EQ(static_cast<std::int64_t>(errors.size()), BrokenFiles(m));
    for (const ErrorRecord& error : errors) EXPECT_FALSE(error.reason.empty()) << error.path;
  });
}

TEST_F(IngestTest, InstanceIdsOfASeriesShareTheirLeadingBytes) {
  Ingest(Archive(), Db());
  auto store = OpenStore(Db());
  std::set<std::string> prefixes;
  store->Read([&](Session& session) {
    query::Query all;
    all.limit = 1000;
    for (const Document& series : session.Find(Kind::kSeries, all).results) {
      const auto instances = session.Children(Kind::kInstances, *ObjectId::Parse(series.at("_id").as_string()));
      ASSERT_FALSE(instances.empty());
      const auto prefix_of = [](const Document& doc) { return std::string(doc.at("_id").as_string()).substr(0, 8); };
      const std::string prefix = prefix_of(instances.front());
      for (const Document& instance : instances) EXPECT_EQ(prefix_of(instance), prefix);
      prefixes.insert(prefix);
      // Derived, not drawn: the same UIDs give the same id on any machine.
      const Document& first = instances.front();
      EXPECT_EQ(first.at("_id").as_string(),
                ObjectId::FromKey("instances", first.at("sop_instance_uid").as_string(),
                                  series.at("series_instance_uid").as_string())
                    .ToHex());
    }
  });
  EXPECT_EQ(static_cast<std::int64_t>(prefixes.size()), Int(*manifest_, "series")) << "one prefix per series";
}

// The DICOM module (DCMTK and what it pulls in) is loaded by the first file that needs parsing, so an unchanged
// re-ingest never pays for it. The dynamic loader says what it loads when LD_DEBUG=files.
TEST_F(IngestTest, OnlyARunThatParsesLoadsTheDicomModule) {
  const auto loads_dicom = [&] {
    const CommandResult result = RunCommand({"/usr/bin/env", "LD_DEBUG=files", MetaDbBinary(), "ingest",
                                             Archive().string(), "--db", Db(), "--quiet"});
    EXPECT_EQ(result.exit_code, 0) << result.err.substr(0, 2000);
    return result.err.find("meta_db_dicom.so") != std::string::npos &&
           result.err.find("libdcmdata") != std::string::npos;
  };
  EXPECT_TRUE(loads_dicom()) << "the first ingest parses";
  EXPECT_FALSE(loads_dicom()) << "an unchanged archive is re-ingested without DCMTK";
}

// Without its module beside it the binary still works for everything but DICOM, and says what is missing.
TEST_F(IngestTest, MissingDicomModuleIsAClearError) {
  const fs::path lonely = dir_ / "bin" / "meta_db";
  fs::create_directories(lonely.parent_path());
  fs::copy_file(MetaDbBinary(), lonely);
  // The store's module stays beside it (a MongoDB store is loaded from meta_db_mongo.so): only DICOM is missing.
  const fs::path mongo_module = fs::path(MetaDbBinary()).parent_path() / "meta_db_mongo.so";
  if (fs::exists(mongo_module)) fs::copy_file(mongo_module, lonely.parent_path() / "meta_db_mongo.so");
  const std::string catalogue = OtherDb("made");  // stats needs a catalogue: one ingested by the complete binary
  Ingest(Archive(), catalogue);
  const CommandResult stats = RunCommand({lonely.string(), "stats", "--db", catalogue});
  EXPECT_EQ(stats.exit_code, 0) << stats.err;
  const CommandResult ingest = RunCommand({lonely.string(), "ingest", Archive().string(), "--db", Db(), "--quiet"});
  EXPECT_NE(ingest.exit_code, 0);
  EXPECT_NE(ingest.err.find("cannot load the DICOM module"), std::string::npos) << ingest.err;
  EXPECT_NE(ingest.err.find("meta_db_dicom.so"), std::string::npos) << ingest.err;
  EXPECT_EQ(ingest.err.find('\n'), ingest.err.size() - 1) << "one line: " << ingest.err;
}

TEST_F(IngestTest, SecondIngestChangesNothing) {
  Ingest(Archive(), Db());
  auto store = OpenStore(Db());
  const auto before = Fingerprint(*store);
  const json::object again = Ingest(Archive(), Db());
  EXPECT_EQ(Int(again, "instances", "inserted"), 0);
  EXPECT_EQ(Int(again, "instances", "updated"), 0);
  EXPECT_EQ(Int(again, "studies", "updated"), 0);
  EXPECT_EQ(Int(again, "series", "updated"), 0);
  EXPECT_EQ(Int(again, "dicom_parsed"), 0) << "unchanged files must not be parsed again";
  EXPECT_EQ(Int(again, "unchanged_files"), Int(again, "files_seen")) << "broken files did not change either";
  EXPECT_EQ(Fingerprint(*store), before);
}

TEST_F(IngestTest, IngestIntoTwoDatabasesGivesTheSameDocuments) {
  Ingest(Archive(), Db());
  const std::string other = OtherDb("other");
  Ingest(Archive(), other, {"--threads", "1", "--batch", "7"});
  auto a = OpenStore(Db());
  auto b = OpenStore(other);
  EXPECT_EQ(Fingerprint(*a, false), Fingerprint(*b, false));
}

TEST_F(IngestTest, ShardedIngestEqualsOneIngest) {
  Ingest(Archive(), Db());
  const std::string sharded = OtherDb("sharded");
  std::int64_t files = 0;
  for (int shard = 0; shard < 3; ++shard) {
    files += Int(Ingest(Archive(), sharded, {"--shard", std::to_string(shard) + "/3"}), "files_seen");
  }
  EXPECT_EQ(files, Int(*manifest_, "files_total")) << "every file in exactly one shard";
  auto whole = OpenStore(Db());
  auto parts = OpenStore(sharded);
  EXPECT_EQ(Fingerprint(*whole, false), Fingerprint(*parts, false));
  const json::object again = Ingest(Archive(), sharded);
  EXPECT_EQ(Int(again, "unchanged_files"), Int(again, "files_seen"));
}

TEST_F(IngestTest, IncrementalReingestFollowsTheArchive) {
  const fs::path archive = CopyArchive();
  Ingest(archive, Db());
  auto store = OpenStore(Db());
  std::string series_id;
  const auto paths = PathsOfFirstSeries(*store, &series_id);
  ASSERT_GE(paths.size(), 3u);
  // Re-map the paths from the catalogue's canonical root.
  fs::remove(paths[0]);
  fs::last_write_time(paths[1], fs::last_write_time(paths[1]) + std::chrono::hours(1));
  fs::copy_file(paths[2], fs::path(paths[2]).parent_path() / "copy-of-slice.dcm");
  const auto before = Fingerprint(*store);
  const json::object summary = Ingest(archive, Db());
  EXPECT_EQ(Int(summary, "disappeared"), 1);
  EXPECT_EQ(Int(summary, "dicom_parsed"), 2) << "the touched file and the copy";
  EXPECT_EQ(Int(summary, "duplicates"), 1);
  EXPECT_EQ(Int(summary, "instances", "removed"), 1);
  EXPECT_EQ(Int(summary, "instances", "updated"), 0) << "a touched but identical file changes nothing";
  store->Read([&](Session& session) {
    const auto series = session.Get(Kind::kSeries, *ObjectId::Parse(series_id));
    EXPECT_EQ(series->at("num_instances").to_number<std::int64_t>(), static_cast<std::int64_t>(paths.size() - 1));
    bool registered = false;
    for (const ErrorRecord& error : session.Errors(0, 1000)) {
      if (error.path.ends_with("copy-of-slice.dcm")) registered = error.reason.find("duplicate") != std::string::npos;
    }
    EXPECT_TRUE(registered) << "the duplicate SOP Instance UID is registered";
  });
  ExpectInvariants(*store);
  EXPECT_NE(Fingerprint(*store), before);
}

TEST_F(IngestTest, RemovedSeriesDisappearsFromItsStudy) {
  const fs::path archive = CopyArchive();
  Ingest(archive, Db());
  auto store = OpenStore(Db());
  std::string series_id;
  const auto paths = PathsOfFirstSeries(*store, &series_id);
  fs::remove_all(fs::path(paths.front()).parent_path());
  Ingest(archive, Db());
  store->Read([&](Session& session) { EXPECT_FALSE(session.Get(Kind::kSeries, *ObjectId::Parse(series_id))); });
  ExpectInvariants(*store);
}

TEST_F(IngestTest, FixedFileLeavesTheErrorRegister) {
  const fs::path archive = CopyArchive();
  Ingest(archive, Db());
  auto store = OpenStore(Db());
  std::vector<ErrorRecord> errors;
  store->Read([&](Session& session) { errors = session.Errors(0, 100); });
  ASSERT_FALSE(errors.empty());
  // The broken file is replaced by a whole, valid DICOM file (a SOP Instance UID not in the archive).
  fs::copy_file(kPydicomFiles / "CT_small.dcm", errors.front().path, fs::copy_options::overwrite_existing);
  const json::object summary = Ingest(archive, Db());
  EXPECT_EQ(Int(summary, "instances", "inserted"), 1);
  store->Read([&](Session& session) {
    EXPECT_EQ(static_cast<std::size_t>(session.Counts().errors), errors.size() - 1);
  });
}

TEST_F(IngestTest, BadArchiveRootExitsWithTwo) {
  const auto result = RunCommand({MetaDbBinary(), "ingest", (dir_ / "missing").string(), "--db", Db()});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("missing"), std::string::npos) << result.err;
  EXPECT_EQ(result.err.find('\n'), result.err.size() - 1) << "one line: " << result.err;
}

// A directory where the SQLite file should be; a MongoDB server nobody listens on.
TEST_F(IngestTest, UnopenableDatabaseExitsNonZero) {
  fs::create_directory(dir_ / "a-directory");
  const std::string db = TestingSqlite() ? "sqlite:" + (dir_ / "a-directory").string()
                                         : std::string("mongodb://127.0.0.1:1/meta_db_nowhere?serverSelectionTimeoutMS=500");
  const auto result = RunCommand({MetaDbBinary(), "ingest", Archive().string(), "--db", db});
  EXPECT_EQ(result.exit_code, 3) << result.err;
  EXPECT_FALSE(result.err.empty());
}

TEST_F(IngestTest, UnknownProfileKeywordNamesFileAndLine) {
  fs::create_directory(dir_ / "profile");
  std::ofstream(dir_ / "profile" / "series.txt") << "# series level\nModality\nNotADicomKeyword\n";
  const auto result = RunCommand({MetaDbBinary(), "ingest", Archive().string(), "--db", Db(), "--profile",
                                  (dir_ / "profile").string()});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("series.txt:3"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("NotADicomKeyword"), std::string::npos) << result.err;
}

TEST_F(IngestTest, ProfileDecidesWhichTagsAreStored) {
  fs::create_directory(dir_ / "profile");
  std::ofstream(dir_ / "profile" / "series.txt")
      << "SeriesInstanceUID\nSeriesNumber\nModality\nSeriesDescription\n(0018,0060)\n";
  Ingest(Archive(), Db(), {"--profile", (dir_ / "profile").string()});
  auto store = OpenStore(Db());
  store->Read([&](Session& session) {
    query::Query first;
    first.limit = 1;
    const Document series = session.Find(Kind::kSeries, first).results.at(0);
    const auto& metadata = series.at("metadata").as_object();
    EXPECT_TRUE(metadata.contains("KVP")) << json::serialize(metadata);
    EXPECT_FALSE(metadata.contains("ConvolutionKernel")) << json::serialize(metadata);
  });
}

TEST_F(IngestTest, UnchangedDirectoriesAreRecognisedAsWholesAndChangesStillFound) {
  const fs::path archive = CopyArchive();
  Ingest(archive, Db());
  auto store = OpenStore(Db());
  ExpectEveryDirectoryDigested(*store);
  std::string series_id;
  const auto paths = PathsOfFirstSeries(*store, &series_id);
  ASSERT_GE(paths.size(), 2u);
  const auto original = fs::last_write_time(paths[1]);
  fs::last_write_time(paths[1], original + std::chrono::hours(1));
  json::object summary = Ingest(archive, Db());
  EXPECT_EQ(Int(summary, "dicom_parsed"), 1);
  EXPECT_EQ(Int(summary, "unchanged_files"), Int(summary, "files_seen") - 1);
  ExpectEveryDirectoryDigested(*store);
  // Back to the state the first ingest saw: the directory hashes as it did then, but the records hold the touched
  // file, so it is read again.
  fs::last_write_time(paths[1], original);
  summary = Ingest(archive, Db());
  EXPECT_EQ(Int(summary, "dicom_parsed"), 1);
  EXPECT_EQ(Int(summary, "instances", "updated"), 0);
  ExpectEveryDirectoryDigested(*store);
  // A new file in a directory, and a file removed from it.
  fs::copy_file(kPydicomFiles / "CT_small.dcm", fs::path(paths[0]).parent_path() / "zz-new.dcm");
  fs::remove(paths[1]);
  summary = Ingest(archive, Db());
  EXPECT_EQ(Int(summary, "dicom_parsed"), 1);
  EXPECT_EQ(Int(summary, "disappeared"), 1);
  EXPECT_EQ(Int(summary, "instances", "inserted"), 1);
  EXPECT_EQ(Int(summary, "instances", "removed"), 1);
  ExpectInvariants(*store);
  ExpectEveryDirectoryDigested(*store);
  summary = Ingest(archive, Db());
  EXPECT_EQ(Int(summary, "unchanged_files"), Int(summary, "files_seen"));
}

TEST_F(IngestTest, ReingestOfAVersion4CatalogueChangesNothingAndDigestsItsDirectories) {
  META_DB_SQLITE_ONLY("downgrades a SQLite file to schema version 4");
  Ingest(Archive(), Db());
  const fs::path file = db_->sqlite_file();
  ExecOnFile(file, "DROP TABLE ingest_dirs; UPDATE meta_db_info SET value = '4' WHERE key = 'schema_version'");
  std::vector<std::string> before;
  {
    auto store = OpenStore(Db());
    before = Fingerprint(*store);
  }
  const json::object summary = Ingest(Archive(), Db());
  EXPECT_EQ(Int(summary, "dicom_parsed"), 0);
  EXPECT_EQ(Int(summary, "unchanged_files"), Int(summary, "files_seen"));
  auto store = OpenStore(Db());
  EXPECT_EQ(Fingerprint(*store), before);
  ExpectEveryDirectoryDigested(*store);
}

TEST_F(IngestTest, ShardedReingestFollowsTheRootsOwnFiles) {
  const fs::path archive = CopyArchive();
  fs::copy_file(kPydicomFiles / "CT_small.dcm", archive / "at-the-root.dcm");
  const auto all_shards = [&] {
    json::object total;
    for (const char* key : {"files_seen", "unchanged_files", "dicom_parsed", "disappeared"}) total[key] = 0;
    for (int shard = 0; shard < 3; ++shard) {
      const json::object summary = Ingest(archive, Db(), {"--shard", std::to_string(shard) + "/3"});
      for (auto& [key, value] : total) value = value.to_number<std::int64_t>() + Int(summary, key);
    }
    return total;
  };
  json::object total = all_shards();
  EXPECT_EQ(Int(total, "files_seen"), Int(*manifest_, "files_total") + 1);
  total = all_shards();
  EXPECT_EQ(Int(total, "unchanged_files"), Int(total, "files_seen"));
  EXPECT_EQ(Int(total, "dicom_parsed"), 0);
  fs::remove(archive / "at-the-root.dcm");
  total = all_shards();
  EXPECT_EQ(Int(total, "disappeared"), 1);
  EXPECT_EQ(Int(total, "dicom_parsed"), 0);
  auto store = OpenStore(Db());
  ExpectInvariants(*store);
  store->Read([&](Session& session) {
    EXPECT_FALSE(session.GetFileRecord((fs::canonical(archive) / "at-the-root.dcm").string()).has_value());
  });
}

TEST_F(IngestTest, MovedAndRenamedFilesKeepTheirInstancesInOneRun) {
  const fs::path archive = CopyArchive();
  const json::object first = Ingest(archive, Db());
  auto store = OpenStore(Db());
  std::int64_t errors_before = 0;
  store->Read([&](Session& session) { errors_before = session.Counts().errors; });
  std::string series_id;
  const auto paths = PathsOfFirstSeries(*store, &series_id);
  ASSERT_GE(paths.size(), 2u);
  // One file renamed in place, and its whole series directory then moved under a new name: at their new paths
  // they are met while the old paths still hold their instances.
  const fs::path series_dir = fs::path(paths[0]).parent_path();
  const auto files_in_series_dir = std::distance(fs::directory_iterator(series_dir), fs::directory_iterator());
  fs::rename(paths[0], series_dir / "renamed.dcm");
  const fs::path moved = series_dir.parent_path() / "moved-series";
  fs::rename(series_dir, moved);
  const json::object summary = Ingest(archive, Db());
  EXPECT_EQ(Int(summary, "disappeared"), files_in_series_dir) << "every old path (annotations too)";
  EXPECT_EQ(Int(summary, "duplicates"), 0) << "moved files are not duplicates of their old selves";
  for (const auto& failure : summary.at("failures").as_array()) {
    EXPECT_EQ(failure.as_object().at("reason").as_string().find("duplicate"), std::string::npos);
  }
  ExpectInvariants(*store);
  store->Read([&](Session& session) {
    EXPECT_EQ(session.Counts().instances, Int(first, "instances", "inserted"));
    EXPECT_EQ(session.Counts().errors, errors_before) << "no duplicate left in the error register";
    const auto instances = session.Children(Kind::kInstances, *ObjectId::Parse(series_id));
    ASSERT_EQ(instances.size(), paths.size()) << "the series keeps every instance (and its id)";
    for (const Document& instance : instances) {
      EXPECT_EQ(fs::path(std::string(instance.at("path").as_string())).parent_path(), moved);
    }
    EXPECT_TRUE(session.GetFileRecord((moved / "renamed.dcm").string()).has_value());
  });
  const json::object again = Ingest(archive, Db());
  EXPECT_EQ(Int(again, "dicom_parsed"), 0);
  EXPECT_EQ(Int(again, "unchanged_files"), Int(again, "files_seen"));
}

TEST_F(IngestTest, TwoCopiesOfAMovedFileLeaveOneInstanceAndOneDuplicate) {
  const fs::path archive = CopyArchive();
  Ingest(archive, Db());
  auto store = OpenStore(Db());
  std::int64_t instances = 0, errors = 0;
  store->Read([&](Session& session) {
    instances = session.Counts().instances;
    errors = session.Counts().errors;
  });
  std::string series_id;
  const auto paths = PathsOfFirstSeries(*store, &series_id);
  const fs::path dir = fs::path(paths[0]).parent_path();
  fs::copy_file(paths[0], dir / "copy-a.dcm");
  fs::copy_file(paths[0], dir / "copy-b.dcm");
  fs::remove(paths[0]);
  const json::object summary = Ingest(archive, Db());
  EXPECT_EQ(Int(summary, "disappeared"), 1);
  EXPECT_EQ(Int(summary, "duplicates"), 1) << "one copy provides the instance, the other duplicates it";
  std::int64_t listed = 0;
  for (const auto& failure : summary.at("failures").as_array()) {
    listed += failure.as_object().at("reason").as_string().find("duplicate") != std::string::npos ? 1 : 0;
  }
  EXPECT_EQ(listed, 1);
  ExpectInvariants(*store);
  store->Read([&](Session& session) {
    EXPECT_EQ(session.Counts().instances, instances);
    EXPECT_EQ(session.Counts().errors, errors + 1);
  });
}

TEST_F(IngestTest, PydicomCorpusNeverStopsTheRun) {
  const fs::path corpus = kPydicomFiles;
  if (!fs::exists(corpus)) GTEST_SKIP() << "python3-pydicom is not installed";
  std::int64_t files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(corpus)) files += entry.is_regular_file() ? 1 : 0;
  const json::object summary = Ingest(corpus, Db());
  EXPECT_EQ(Int(summary, "files_seen"), files);
  EXPECT_EQ(Int(summary, "dicom_parsed") + Int(summary, "not_dicom") + Int(summary, "failed") +
                Int(summary, "incomplete"),
            files);
  EXPECT_GT(Int(summary, "instances", "inserted"), 30);
  auto store = OpenStore(Db());
  ExpectInvariants(*store);
  store->Read([&](Session& session) {
    EXPECT_EQ(session.Counts().errors,
              Int(summary, "failed") + Int(summary, "incomplete") + Int(summary, "duplicates"));
  });
}

}  // namespace
}  // namespace meta_db::testing
