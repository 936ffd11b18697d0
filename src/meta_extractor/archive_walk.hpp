// Recursive walk of an archive root: regular files only, never leaving the root (symlinks are not followed).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace meta_db::extractor {

struct WalkEntry {
  std::string path;  // absolute, lexically normal
  std::int64_t size = 0;
  std::int64_t mtime_ns = 0;
};

// Regular files of one directory, sorted by name: all of them (`complete`), or one part of a directory that came in
// several (a huge one, or one whose files a single worker met between subdirectories).
struct DirectoryFiles {
  std::string path;  // the directory, as in its files' paths (no trailing '/')
  std::vector<WalkEntry> files;
  bool complete = false;
};
// The part is the visitor's to keep (it may move from it).
using DirectoryVisitor = std::function<void(int worker, DirectoryFiles& part)>;

struct WalkStats {
  std::int64_t files = 0;
  std::int64_t unreadable_dirs = 0;  // directories that could not be listed (reported, walk continues)
};

// Calls `visit` for every regular file under `root` in a deterministic (sorted) order.
// Throws Error(kBadRequest) if root is missing, not a directory or unreadable.
WalkStats WalkArchive(const std::string& root, const std::function<void(WalkEntry&&)>& visit);

// The same walk on `workers` threads at once (a warm re-ingest is bound by stat() calls, a cold mount by their
// latency): `visit(worker, entry)` runs on worker `worker` in [0, workers), concurrently with the other workers.
// Each directory is listed in sorted order by one worker; with one worker the order is WalkArchive's.
// An exception thrown by `visit` stops every worker and is rethrown here.
WalkStats WalkArchive(const std::string& root, int workers, const std::function<void(int, WalkEntry&&)>& visit);

// The same walk, handing each directory's files over together once they are all stat'ed (parts of at most 16,384
// files): a caller can judge a directory as a whole, e.g. unchanged since the last ingest.
WalkStats WalkArchive(const std::string& root, int workers, const DirectoryVisitor& visit);

}  // namespace meta_db::extractor
