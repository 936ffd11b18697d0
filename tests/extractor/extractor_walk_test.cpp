// Archive walk: sorted, regular files only, symlinks never followed (not out of the root, not at all), bad roots.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "common/error.hpp"
#include "meta_extractor/archive_walk.hpp"
#include "test_support.hpp"

namespace meta_db::extractor {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> Walk(const fs::path& root, WalkStats* stats = nullptr) {
  std::vector<std::string> paths;
  const WalkStats s = WalkArchive(root.string(), [&](WalkEntry&& e) {
    EXPECT_GE(e.size, 0);
    EXPECT_GT(e.mtime_ns, 0);
    paths.push_back(fs::path(e.path).lexically_relative(root).string());
  });
  if (stats) *stats = s;
  return paths;
}

TEST(Walk, SortedRegularFilesOnlyAndSymlinksNotFollowed) {
  test::TempDir outside, archive;
  test::WriteAll(outside.path() / "secret.dcm", "outside the root");
  const fs::path root = archive.path() / "root";
  test::WriteAll(root / "b" / "2.dcm", "x");
  test::WriteAll(root / "b" / "10.dcm", "x");
  test::WriteAll(root / "a.xml", "x");
  test::WriteAll(root / "c" / "d" / "e", "x");
  fs::create_directory_symlink(outside.path(), root / "link_to_outside_dir");
  fs::create_symlink(outside.path() / "secret.dcm", root / "link_to_outside_file.dcm");
  fs::create_symlink(root / "a.xml", root / "link_inside.xml");
  fs::create_directory(root / "empty");
  ::mkfifo((root / "fifo").c_str(), 0600);
  WalkStats stats;
  const std::vector<std::string> paths = Walk(root, &stats);
  EXPECT_EQ(paths, (std::vector<std::string>{"a.xml", "b/10.dcm", "b/2.dcm", "c/d/e"}));
  EXPECT_EQ(stats.files, 4);
  EXPECT_EQ(stats.unreadable_dirs, 0);
}

TEST(Walk, PathsAreAbsoluteAndNormal) {
  test::TempDir archive;
  test::WriteAll(archive.path() / "x" / "1.dcm", "x");
  std::vector<std::string> paths;
  WalkArchive((archive.path() / "x" / ".." / "x" / "").string(), [&](WalkEntry&& e) { paths.push_back(e.path); });
  ASSERT_EQ(paths.size(), 1u);
  EXPECT_EQ(paths[0], (archive.path() / "x" / "1.dcm").string());
}

TEST(Walk, UnreadableSubdirectoryIsCountedAndWalkContinues) {
  if (::geteuid() == 0) GTEST_SKIP() << "root can read any directory";
  test::TempDir archive;
  test::WriteAll(archive.path() / "a" / "1.dcm", "x");
  test::WriteAll(archive.path() / "z" / "2.dcm", "x");
  fs::permissions(archive.path() / "a", fs::perms::none);
  WalkStats stats;
  const std::vector<std::string> paths = Walk(archive.path(), &stats);
  fs::permissions(archive.path() / "a", fs::perms::owner_all);
  EXPECT_EQ(paths, std::vector<std::string>{"z/2.dcm"});
  EXPECT_EQ(stats.unreadable_dirs, 1);
}

void ExpectBadRoot(const std::string& root) {
  try {
    WalkArchive(root, [](WalkEntry&&) {});
    ADD_FAILURE() << "no error for " << root;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kBadRequest);
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);  // one line
    EXPECT_NE(std::string(e.what()).find(root), std::string::npos);
  }
}

TEST(Walk, BadRootsAreOneLineBadRequests) {
  test::TempDir archive;
  test::WriteAll(archive.path() / "file.dcm", "x");
  ExpectBadRoot((archive.path() / "missing").string());
  ExpectBadRoot((archive.path() / "file.dcm").string());
  ExpectBadRoot("");
}

}  // namespace
}  // namespace meta_db::extractor
