// Archive walk: sorted, regular files only, symlinks never followed (not out of the root, not at all), bad roots.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <stdexcept>

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

TEST(Walk, SeveralWorkersMeetEveryFileOnceAndStopOnAnError) {
  test::TempDir archive;
  const fs::path root = archive.path() / "root";
  std::vector<std::string> expected;
  for (int patient = 0; patient < 12; ++patient) {
    for (int series = 0; series < 3; ++series) {
      for (int slice = 0; slice < 1 + patient % 5; ++slice) {
        const std::string rel = "p" + std::to_string(patient) + "/s" + std::to_string(series) + "/" +
                                std::to_string(slice) + ".dcm";
        test::WriteAll(root / rel, "x");
        expected.push_back(rel);
      }
    }
    test::WriteAll(root / ("top" + std::to_string(patient) + ".xml"), "x");
    expected.push_back("top" + std::to_string(patient) + ".xml");
  }
  fs::create_directory_symlink(archive.path(), root / "p0" / "loop");
  std::sort(expected.begin(), expected.end());
  for (int workers : {1, 2, 3, 8}) {
    std::mutex mutex;
    std::vector<std::string> paths;
    std::vector<int> per_worker(static_cast<std::size_t>(workers));
    const WalkStats stats = WalkArchive(root.string(), workers, [&](int worker, WalkEntry&& e) {
      ASSERT_GE(worker, 0);
      ASSERT_LT(worker, workers);
      std::lock_guard lock(mutex);
      ++per_worker[static_cast<std::size_t>(worker)];
      paths.push_back(fs::path(e.path).lexically_relative(root).string());
    });
    if (workers == 1) {
      // One worker keeps the documented order: each directory's entries sorted, depth first.
      EXPECT_EQ(paths, Walk(root)) << "one worker walks like WalkArchive";
    }
    std::sort(paths.begin(), paths.end());
    EXPECT_EQ(paths, expected) << workers << " workers";
    EXPECT_EQ(stats.files, static_cast<std::int64_t>(expected.size()));
  }
  for (int workers : {1, 3}) {
    std::atomic<int> visited{0};
    EXPECT_THROW(WalkArchive(root.string(), workers,
                             [&](int, WalkEntry&&) {
                               if (++visited == 5) throw std::runtime_error("visit failed");
                             }),
                 std::runtime_error);
    EXPECT_LT(visited.load(), static_cast<int>(expected.size())) << "the walk stopped early";
  }
}

TEST(Walk, DirectoriesArriveWholeAndSortedOrInMarkedParts) {
  test::TempDir archive;
  const fs::path root = archive.path() / "root";
  for (int series = 0; series < 6; ++series) {
    for (int slice = 9; slice >= 0; --slice) {
      test::WriteAll(root / ("p" + std::to_string(series % 2)) / ("s" + std::to_string(series)) /
                         (std::to_string(slice) + ".dcm"),
                     "x");
    }
  }
  // Files before and after a subdirectory: a single worker keeps the sorted order by handing them over in two parts.
  test::WriteAll(root / "mixed" / "a.dcm", "x");
  test::WriteAll(root / "mixed" / "m" / "inner.dcm", "x");
  test::WriteAll(root / "mixed" / "z.dcm", "x");
  for (int workers : {1, 2, 3}) {
    std::mutex mutex;
    std::map<std::string, std::vector<DirectoryFiles>> parts;
    const WalkStats stats = WalkArchive(root.string(), workers, DirectoryVisitor([&](int, DirectoryFiles& part) {
      EXPECT_FALSE(part.files.empty());
      EXPECT_TRUE(std::is_sorted(part.files.begin(), part.files.end(),
                                 [](const WalkEntry& a, const WalkEntry& b) { return a.path < b.path; }));
      for (const WalkEntry& file : part.files) EXPECT_EQ(fs::path(file.path).parent_path(), fs::path(part.path));
      std::lock_guard lock(mutex);
      parts[fs::path(part.path).lexically_relative(root).string()].push_back(std::move(part));
    }));
    EXPECT_EQ(stats.files, 6 * 10 + 3);
    for (int series = 0; series < 6; ++series) {
      const auto& got = parts["p" + std::to_string(series % 2) + "/s" + std::to_string(series)];
      ASSERT_EQ(got.size(), 1u) << workers << " workers: one part per ordinary directory";
      EXPECT_TRUE(got[0].complete);
      EXPECT_EQ(got[0].files.size(), 10u);
    }
    const auto& mixed = parts["mixed"];
    if (workers == 1) {
      ASSERT_EQ(mixed.size(), 2u);
      EXPECT_FALSE(mixed[0].complete);
      EXPECT_FALSE(mixed[1].complete);
    } else {
      ASSERT_EQ(mixed.size(), 1u) << "its subdirectory is queued, not descended into";
      EXPECT_TRUE(mixed[0].complete);
      EXPECT_EQ(mixed[0].files.size(), 2u);
    }
    ASSERT_EQ(parts["mixed/m"].size(), 1u);
  }
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
