// DirectoryDigests: what makes a directory unchanged as a whole, and which digests get saved, on a real store of the
// back-end under test.
#include "driver/directory_digests.hpp"
#include "driver/known_files.hpp"
#include "driver/written_records.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

#include <map>
#include <memory>

namespace meta_db::driver {
namespace {

using extractor::DirectoryFiles;
using extractor::WalkEntry;

DirectoryFiles Part(std::vector<WalkEntry> files, bool complete = true) {
  return {.path = "/archive/s", .files = std::move(files), .complete = complete};
}

const std::vector<WalkEntry> kFiles = {{.path = "/archive/s/1.dcm", .size = 10, .mtime_ns = 100},
                                       {.path = "/archive/s/2.dcm", .size = 20, .mtime_ns = 200}};

TEST(DirectoryDigests, DigestCoversNamesSizesAndMtimesInAnyOrder) {
  const std::int64_t digest = DirectoryDigests::Of(Part(kFiles));
  EXPECT_EQ(DirectoryDigests::Of(Part({kFiles[1], kFiles[0]})), digest) << "the walk's order does not matter";
  auto changed = [&](auto change) {
    std::vector<WalkEntry> files = kFiles;
    change(files);
    return DirectoryDigests::Of(Part(files));
  };
  EXPECT_NE(changed([](auto& f) { f[0].size = 11; }), digest);
  EXPECT_NE(changed([](auto& f) { f[1].mtime_ns = 201; }), digest);
  EXPECT_NE(changed([](auto& f) { f[0].path = "/archive/s/3.dcm"; }), digest);
  EXPECT_NE(changed([](auto& f) { f.pop_back(); }), digest);
  EXPECT_NE(changed([](auto& f) { f.push_back({.path = "/archive/s/3.dcm", .size = 0, .mtime_ns = 0}); }), digest);
  EXPECT_NE(changed([](auto& f) { std::swap(f[0].size, f[1].size); }), digest) << "sizes belong to their names";
}

class DirectoryDigestsOnStore : public ::testing::Test {
 protected:
  void PutRecords(const std::vector<WalkEntry>& files, const std::string& status = "ok") {
    store_->Write([&](Session& s) {
      for (const WalkEntry& f : files) {
        s.PutFileRecord({.path = f.path, .size = f.size, .mtime_ns = f.mtime_ns, .status = status, .sop_instance_uid = ""});
      }
    });
  }
  std::map<std::string, std::optional<std::int64_t>> Stored() {
    std::map<std::string, std::optional<std::int64_t>> out;
    store_->Read([&](Session& s) {
      s.VisitDirectoryDigests("", [&](const DirectoryDigest& row) { out.emplace(row.directory, row.digest); });
    });
    return out;
  }
  std::unique_ptr<DirectoryDigests> Loaded() {
    auto digests = std::make_unique<DirectoryDigests>();
    store_->Read([&](Session& s) { digests->Load(s, "/archive/"); });
    return digests;
  }
  static bool All(std::string_view) { return true; }
  static std::optional<RecordDigest> ReadBack(std::string_view) { return std::nullopt; }

  void SetUp() override {
    META_DB_REQUIRE_TEST_BACKEND();
    db_ = std::make_unique<testing::TestDatabase>();
    store_ = OpenStore(db_->uri());
  }
  void TearDown() override {
    store_.reset();
    db_.reset();
  }

  std::unique_ptr<testing::TestDatabase> db_;
  std::unique_ptr<Store> store_;
};

TEST_F(DirectoryDigestsOnStore, SavesOnlyWhatTheCommittedRecordsConfirm) {
  PutRecords(kFiles);
  const auto first = Loaded();
  EXPECT_FALSE(first->Unchanged(Part(kFiles), true)) << "no digest yet: judged file by file";
  first->Save(*store_, All, ReadBack);
  EXPECT_EQ(Stored().at("/archive/s/"), DirectoryDigests::Of(Part(kFiles)));

  const auto second = Loaded();
  EXPECT_EQ(second->known_files(), 2) << "what the progress bar expects";
  EXPECT_TRUE(second->Unchanged(Part(kFiles), true));
  EXPECT_TRUE(second->IsUnchanged("/archive/s/"));
  EXPECT_FALSE(second->MissedStored(All));
  EXPECT_FALSE(Loaded()->Unchanged(Part(kFiles), false)) << "a directory this run does not judge";
  EXPECT_FALSE(Loaded()->Unchanged(Part(kFiles, false), true)) << "a part of a split directory";

  // The walk saw a file the records do not hold (say it changed again while the run parsed it): no digest.
  std::vector<WalkEntry> walked = kFiles;
  walked[0].mtime_ns = 101;
  const auto third = Loaded();
  EXPECT_FALSE(third->Unchanged(Part(walked), true));
  PutRecords({kFiles[0]});  // clears the stored digest, as every record write does
  third->Save(*store_, All, ReadBack);
  EXPECT_EQ(Stored().at("/archive/s/"), std::nullopt);

  // A file whose status has it read every run keeps its directory judged file by file.
  PutRecords({walked[0]}, "unreadable");
  const auto fourth = Loaded();
  EXPECT_FALSE(fourth->Unchanged(Part(walked), true));
  fourth->Save(*store_, All, ReadBack);
  EXPECT_EQ(Stored().at("/archive/s/"), std::nullopt);
  PutRecords({walked[0]});
  const auto fifth = Loaded();
  EXPECT_FALSE(fifth->Unchanged(Part(walked), true));
  fifth->Save(*store_, All, ReadBack);
  EXPECT_EQ(Stored().at("/archive/s/"), DirectoryDigests::Of(Part(walked)));
}

TEST_F(DirectoryDigestsOnStore, ADirectoryTheWalkMissedIsReportedAndItsRowGoesWithItsRecords) {
  PutRecords(kFiles);
  const auto first = Loaded();
  first->Unchanged(Part(kFiles), true);
  first->Save(*store_, All, ReadBack);
  const auto second = Loaded();  // the directory is gone: the walk never meets it
  EXPECT_TRUE(second->MissedStored(All));
  EXPECT_FALSE(second->MissedStored([](std::string_view) { return false; })) << "another shard's";
  second->Save(*store_, All, ReadBack);
  EXPECT_EQ(Stored().count("/archive/s/"), 1u) << "its records are still there";
  store_->Write([&](Session& s) {
    for (const WalkEntry& f : kFiles) s.RemoveFileRecord(f.path);
  });
  second->Save(*store_, All, ReadBack);
  EXPECT_TRUE(Stored().empty());
}

TEST_F(DirectoryDigestsOnStore, RecordsTheRunKnowsConfirmADigestWithoutAReadBack) {
  // No record is stored: a digest saved here can only come from what `known` answered.
  const auto first = Loaded();
  EXPECT_FALSE(first->Unchanged(Part(kFiles), true));
  WrittenRecords written;
  for (const WalkEntry& f : kFiles) {
    written.Put({.path = f.path, .size = f.size, .mtime_ns = f.mtime_ns, .status = "ok", .sop_instance_uid = ""});
  }
  const KnownFiles none;
  first->Save(*store_, All, [&](std::string_view directory) { return written.DigestOf(directory, &none); });
  EXPECT_EQ(Stored().at("/archive/s/"), DirectoryDigests::Of(Part(kFiles)));

  // What the run wrote differs from what the walk saw (a file changed while it was parsed): no digest.
  WrittenRecords stale;
  stale.Put({.path = kFiles[0].path, .size = 11, .mtime_ns = 100, .status = "ok", .sop_instance_uid = ""});
  stale.Put({.path = kFiles[1].path, .size = 20, .mtime_ns = 200, .status = "ok", .sop_instance_uid = ""});
  PutRecords(kFiles);  // clears the stored digest
  const auto second = Loaded();
  EXPECT_FALSE(second->Unchanged(Part(kFiles), true));
  second->Save(*store_, All, [&](std::string_view directory) { return stale.DigestOf(directory, &none); });
  EXPECT_EQ(Stored().at("/archive/s/"), std::nullopt);
}

TEST_F(DirectoryDigestsOnStore, WrittenRecordsAnswerOnlyForDirectoriesWhollyTheRuns) {
  WrittenRecords written;
  written.Put({.path = "/archive/s/1.dcm", .size = 10, .mtime_ns = 100, .status = "ok", .sop_instance_uid = ""});
  written.Put({.path = "/archive/s/1.dcm", .size = 10, .mtime_ns = 100, .status = "duplicate", .sop_instance_uid = ""});
  written.Put({.path = "/archive/t/1.dcm", .size = 10, .mtime_ns = 100, .status = "ok", .sop_instance_uid = ""});
  written.Put({.path = "/archive/u/1.dcm", .size = 10, .mtime_ns = 100, .status = "ok", .sop_instance_uid = ""});
  written.Remove("/archive/u/2.dcm");
  EXPECT_FALSE(written.DigestOf("/archive/t/", nullptr)) << "the last ingest's records were not loaded";
  PutRecords({{.path = "/archive/t/0.dcm", .size = 1, .mtime_ns = 1}});
  KnownFiles previous;
  store_->Read([&](Session& s) { previous.Load(s, "/archive/"); });
  EXPECT_FALSE(written.DigestOf("/archive/t/", &previous)) << "the last ingest recorded a file there";
  EXPECT_FALSE(written.DigestOf("/archive/u/", &previous)) << "the run removed a record there";
  const auto s = written.DigestOf("/archive/s/", &previous);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->files(), 1) << "a path written twice is one record, the later one";
  EXPECT_FALSE(s->settled()) << "the later write made it a duplicate";
  RecordDigest alone;
  alone.Add({.path = "/archive/s/1.dcm", .size = 10, .mtime_ns = 100, .status = "duplicate", .sop_instance_uid = ""});
  EXPECT_EQ(s->digest(), alone.digest());
}

}  // namespace
}  // namespace meta_db::driver
