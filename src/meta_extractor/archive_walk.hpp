// Recursive walk of an archive root: regular files only, never leaving the root (symlinks are not followed), and
// every path it could not see reported (what lies there is unknown to the walk, not absent).
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
// several (a huge one, or one whose files a single worker met between subdirectories). A directory whose listing
// failed part-way, or one of whose entries could not be stat'ed, is never complete: its files are not all here.
struct DirectoryFiles {
  std::string path;  // the directory, as in its files' paths (no trailing '/')
  std::vector<WalkEntry> files;
  bool complete = false;
};

// A path the walk could not see: a directory it could not open or list to the end (EACCES, EIO, ESTALE, a readdir
// error, gone or replaced between its parent's listing and its opening), or a listed entry it could not stat
// (including one that vanished meanwhile). Whatever lies at or under it is unknown to this walk.
struct UnseenPath {
  std::string path;  // absolute, as in WalkEntry::path (no trailing '/')
  bool directory = false;
  std::string reason;  // e.g. "cannot open directory: Permission denied"
  friend bool operator<(const UnseenPath& a, const UnseenPath& b) { return a.path < b.path; }
};
// The part is the visitor's to keep (it may move from it).
using DirectoryVisitor = std::function<void(int worker, DirectoryFiles& part)>;

struct WalkStats {
  std::int64_t files = 0;
  std::int64_t unreadable_dirs = 0;  // directories that could not be opened or listed to the end (walk continues)
  std::int64_t unseen_files = 0;     // listed entries that could not be stat'ed
  std::vector<UnseenPath> unseen;    // both, sorted by path
};

// Calls `visit` for every regular file under `root` in a deterministic (sorted) order.
// Throws Error(kBadRequest) if root is missing, not a directory or cannot be opened; any failure below it (the root's
// own listing included) is an UnseenPath instead.
// Symlinks: `root` itself may be or pass through one (resolved once, at the start); below it nothing is followed —
// subdirectories are opened relative to their parent's handle with O_NOFOLLOW, entries stat'ed without following,
// and symlinks, devices, fifos and sockets skipped — so the walk never reads a path outside the root.
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
