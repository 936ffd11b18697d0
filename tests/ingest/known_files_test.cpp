// KnownFiles: the last ingest's file records under a root, loaded from a real store of the back-end under test and
// looked up by path.
#include "driver/known_files.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>

namespace meta_db::driver {
namespace {

TEST(KnownFiles, LoadsOnlyTheRootAndFindsEveryRecordByPath) {
  META_DB_REQUIRE_TEST_BACKEND();
  testing::TestDatabase db;
  auto store = OpenStore(db.uri());
  const std::vector<FileRecord> records = {
      {.path = "/archive/b/2.dcm", .size = 20, .mtime_ns = 200, .status = "ok", .sop_instance_uid = "1.2.2"},
      {.path = "/archive/a/1.dcm", .size = 10, .mtime_ns = 100, .status = "ok", .sop_instance_uid = "1.2.1"},
      {.path = "/archive/a/notes.txt", .size = 5, .mtime_ns = 50, .status = "skipped", .sop_instance_uid = ""},
      {.path = "/archive/a/bad.dcm", .size = 0, .mtime_ns = 60, .status = "error", .sop_instance_uid = ""},
      {.path = "/archive2/a/1.dcm", .size = 1, .mtime_ns = 1, .status = "ok", .sop_instance_uid = "9"},
      {.path = "/archiv/x.dcm", .size = 1, .mtime_ns = 1, .status = "ok", .sop_instance_uid = "8"},
  };
  store->Write([&](Session& session) {
    for (const FileRecord& record : records) session.PutFileRecord(record);
  });
  KnownFiles known;
  store->Read([&](Session& session) { known.Load(session, "/archive/"); });
  ASSERT_EQ(known.size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) {
    const FileRecord& expected = records[i];
    const KnownFiles::File* file = known.Find(expected.path);
    ASSERT_NE(file, nullptr) << expected.path;
    EXPECT_EQ(known.PathOf(*file), expected.path);
    EXPECT_EQ(known.SopOf(*file), expected.sop_instance_uid);
    EXPECT_EQ(file->size, expected.size);
    EXPECT_EQ(file->mtime_ns, expected.mtime_ns);
    EXPECT_EQ(file->status, expected.status);
    EXPECT_FALSE(file->seen);
    const FileRecord copy = known.RecordOf(*file);
    EXPECT_EQ(copy.path, expected.path);
    EXPECT_EQ(copy.sop_instance_uid, expected.sop_instance_uid);
  }
  EXPECT_EQ(known.Find("/archive2/a/1.dcm"), nullptr) << "another root sharing the prefix's text";
  EXPECT_EQ(known.Find("/archiv/x.dcm"), nullptr);
  EXPECT_EQ(known.Find("/archive/a/"), nullptr);
  EXPECT_EQ(known.Find(""), nullptr);
  // In the store's path order (so disappeared files are removed in a stable order).
  for (std::size_t i = 1; i < known.files().size(); ++i) {
    EXPECT_LT(known.PathOf(known.files()[i - 1]), known.PathOf(known.files()[i]));
  }
  // Reloading replaces what was held.
  store->Read([&](Session& session) { known.Load(session, "/archive2/"); });
  ASSERT_EQ(known.size(), 1u);
  EXPECT_NE(known.Find("/archive2/a/1.dcm"), nullptr);
  EXPECT_EQ(known.Find("/archive/a/1.dcm"), nullptr);
}

}  // namespace
}  // namespace meta_db::driver
