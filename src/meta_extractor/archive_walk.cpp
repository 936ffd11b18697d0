// Recursive, sorted, symlink-free walk of an archive root using POSIX directory handles, on one or more threads;
// what it cannot open, list or stat is reported as unseen, never taken for absent.
#include "meta_extractor/archive_walk.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/error.hpp"

namespace meta_db::extractor {
namespace {

using DirHandle = std::shared_ptr<DIR>;  // shared: a subtree handed to another worker keeps its directory open

DirHandle Adopt(DIR* dir) {
  if (dir == nullptr) return nullptr;
  return DirHandle(dir, [](DIR* d) { ::closedir(d); });
}

std::int64_t MtimeNs(const struct stat& st) {
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

// Opens `name` relative to `parent_fd` as a directory without following a symlink (O_NOFOLLOW), so a link that
// was swapped in after the listing cannot lead the walk outside the root.
DirHandle OpenDirAt(int parent_fd, const char* name) {
  const int fd = ::openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return nullptr;
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) ::close(fd);
  return Adopt(dir);
}

// Gathers a directory's regular files and hands them to the visitor together, in parts of at most kMaxPart files.
class Part {
 public:
  Part(int worker, const std::string& dir_path, const DirectoryVisitor& visit)
      : worker_(worker), visit_(visit), path_(dir_path) {}

  const std::string& path() const { return path_; }

  void Add(WalkEntry&& entry) {
    files_.push_back(std::move(entry));
    if (files_.size() >= kMaxPart) Flush(false);
  }

  // Some of the directory's files are missing from its parts (its listing failed part-way, or an entry could not be
  // stat'ed): no part is complete, so nobody judges the directory as a whole.
  void MarkIncomplete() { incomplete_ = true; }

  // Hands over the files gathered so far; `last` when no more can follow. Complete = the directory in one part.
  void Flush(bool last) {
    if (files_.empty()) return;
    DirectoryFiles part{.path = path_, .files = std::move(files_), .complete = last && !split_ && !incomplete_};
    files_ = {};
    split_ = split_ || !last;
    visit_(worker_, part);
  }

 private:
  static constexpr std::size_t kMaxPart = 16384;  // bounds the memory a huge flat directory takes
  const int worker_;
  const DirectoryVisitor& visit_;
  const std::string path_;
  std::vector<WalkEntry> files_;
  bool split_ = false;
  bool incomplete_ = false;
};

// One worker walks depth-first in sorted order, descending into each subdirectory where it meets it. Several
// workers share a stack of listed-but-unwalked subdirectories instead: a worker that lists a directory queues its
// subdirectories at once (so an idle worker can take one while it stats the files) and takes the next from the
// stack when done. Queued subdirectories hold only their parent's handle open (they are opened relative to it,
// without following links), so open directories stay bounded by depth times workers.
class Walker {
 public:
  Walker(int workers, const DirectoryVisitor& visit)
      : workers_(std::max(workers, 1)), visit_(visit) {}

  WalkStats Run(DirHandle root, const std::string& root_path) {
    std::vector<WalkStats> stats(static_cast<std::size_t>(workers_));
    if (workers_ == 1) {
      Walk(0, root, root_path, stats[0]);
      std::sort(stats[0].unseen.begin(), stats[0].unseen.end());
      return stats[0];
    }
    pending_.push_back({.parent = nullptr, .dir = std::move(root), .path = root_path, .name_at = 0});
    {
      std::vector<std::jthread> helpers;
      for (int w = 1; w < workers_; ++w) helpers.emplace_back([&, w] { Work(w, stats[static_cast<std::size_t>(w)]); });
      Work(0, stats[0]);
    }
    if (error_) std::rethrow_exception(error_);
    WalkStats total;
    for (WalkStats& s : stats) {
      total.files += s.files;
      total.unreadable_dirs += s.unreadable_dirs;
      total.unseen_files += s.unseen_files;
      total.unseen.insert(total.unseen.end(), std::make_move_iterator(s.unseen.begin()),
                          std::make_move_iterator(s.unseen.end()));
    }
    std::sort(total.unseen.begin(), total.unseen.end());
    return total;
  }

 private:
  // A subdirectory waiting in the stack: opened (the root) or to be opened relative to its parent's handle.
  struct Subdir {
    DirHandle parent;
    DirHandle dir;
    std::string path;
    std::size_t name_at = 0;  // where its own name starts in `path`
  };

  struct Name {
    std::string name;
    unsigned char type;  // dirent d_type; DT_UNKNOWN when the file system does not say
    friend bool operator<(const Name& a, const Name& b) { return a.name < b.name; }
  };

  void Work(int worker, WalkStats& stats) {
    std::unique_lock lock(mutex_);
    while (true) {
      ++idle_;
      changed_.wait(lock, [&] { return stopping_ || !pending_.empty() || active_ == 0; });
      --idle_;
      if (stopping_ || pending_.empty()) break;  // stopped, or nothing queued and nobody left to queue more
      Subdir subdir = std::move(pending_.back());
      pending_.pop_back();
      ++active_;
      lock.unlock();
      std::exception_ptr error;
      try {
        if (!subdir.dir) {
          subdir.dir = OpenSubdir(::dirfd(subdir.parent.get()), subdir.path, subdir.path.c_str() + subdir.name_at, stats);
        }
        subdir.parent = nullptr;
        if (subdir.dir) Walk(worker, subdir.dir, subdir.path, stats);
      } catch (...) {
        error = std::current_exception();
      }
      subdir = {};
      lock.lock();
      --active_;
      if (error) {
        if (!error_) error_ = std::move(error);
        stopping_ = true;
      }
      if (active_ == 0 || stopping_) changed_.notify_all();
    }
    changed_.notify_all();
  }

  static void Unseen(WalkStats& stats, const std::string& path, bool directory, std::string reason) {
    if (directory) {
      ++stats.unreadable_dirs;
    } else {
      ++stats.unseen_files;
    }
    stats.unseen.push_back({.path = path, .directory = directory, .reason = std::move(reason)});
  }

  // nullptr on failure, reported as unseen — also when the directory vanished (ENOENT: it was listed a moment ago,
  // or its parent went away) or became a file or a symlink (ENOTDIR, ELOOP) since its parent was listed: this walk
  // then knows nothing of what is under it, and the next one judges what is there (a file as a file).
  static DirHandle OpenSubdir(int parent_fd, const std::string& path, const char* name, WalkStats& stats) {
    DirHandle dir = OpenDirAt(parent_fd, name);
    if (!dir) {
      const int error = errno;
      Unseen(stats, path, true,
             error == ENOTDIR || error == ELOOP
                 ? "cannot open directory: it was replaced by a file or a symlink while the walk listed its parent"
                 : std::string("cannot open directory: ") + std::strerror(error));
    }
    return dir;
  }

  // The directory's entries; a readdir failure (NULL with errno set: EIO, ESTALE, EOVERFLOW, ...) ends the listing
  // early and makes the directory unseen, but the entries read so far are still walked.
  static std::vector<Name> List(DIR* dir, const std::string& dir_path, WalkStats& stats, bool& complete) {
    std::vector<Name> names;
    complete = true;
    while (true) {
      errno = 0;
      const dirent* ent = ::readdir(dir);
      if (ent == nullptr) {
        if (errno != 0) {
          complete = false;
          Unseen(stats, dir_path, true, std::string("cannot list directory: ") + std::strerror(errno));
        }
        break;
      }
      if (std::strcmp(ent->d_name, ".") == 0 || std::strcmp(ent->d_name, "..") == 0) continue;
      names.push_back({ent->d_name, ent->d_type});
    }
    std::sort(names.begin(), names.end());  // byte order: deterministic across runs and machines
    return names;
  }

  static std::string Join(const std::string& dir_path, const std::string& name) {
    std::string path;
    path.reserve(dir_path.size() + 1 + name.size());
    path += dir_path;
    if (path.back() != '/') path += '/';
    path += name;
    return path;
  }

  void Walk(int worker, const DirHandle& dir, const std::string& dir_path, WalkStats& stats) {
    const int dir_fd = ::dirfd(dir.get());
    bool complete = true;
    std::vector<Name> names = List(dir.get(), dir_path, stats, complete);
    if (workers_ > 1) Queue(dir, dir_path, names);
    Part part(worker, dir_path, visit_);
    if (!complete) part.MarkIncomplete();
    for (const Name& entry : names) {
      if (stopping_) return;
      if (entry.type == DT_DIR) {
        if (workers_ == 1) Descend(worker, part, dir_fd, entry.name, stats);  // else queued above
        continue;
      }
      if (entry.type != DT_REG && entry.type != DT_UNKNOWN) continue;  // links, sockets, fifos, devices: skipped
      struct stat st {};
      if (::fstatat(dir_fd, entry.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        // Listed but not stat'able: EACCES/EIO/ESTALE, or ENOENT — the file, or its directory, went away since the
        // listing. Positively absent only to a later walk that lists the directory without it.
        const int error = errno;
        part.MarkIncomplete();
        Unseen(stats, Join(dir_path, entry.name), false,
               error == ENOENT ? "vanished while the walk listed its directory"
                               : std::string("cannot stat: ") + std::strerror(error));
        continue;
      }
      if (S_ISREG(st.st_mode)) {
        ++stats.files;
        part.Add(WalkEntry{.path = Join(dir_path, entry.name), .size = st.st_size, .mtime_ns = MtimeNs(st)});
      } else if (S_ISDIR(st.st_mode)) {  // d_type unknown (some network and old file systems)
        if (workers_ > 1) {
          Queue(dir, dir_path, std::vector<Name>{{entry.name, DT_DIR}});
        } else {
          Descend(worker, part, dir_fd, entry.name, stats);
        }
      }
      // symlinks (a symlink may point outside the root) and special files: skipped
    }
    part.Flush(true);
  }

  // One worker keeps the sorted order across a directory's files and subdirectories: the files met so far go out
  // first (so that directory arrives in parts).
  void Descend(int worker, Part& part, int dir_fd, const std::string& name, WalkStats& stats) {
    std::string path = Join(part.path(), name);
    DirHandle sub = OpenSubdir(dir_fd, path, name.c_str(), stats);
    if (!sub) return;
    part.Flush(false);
    Walk(worker, sub, path, stats);
  }

  // Puts the subdirectories among `names` on the shared stack, first name on top.
  void Queue(const DirHandle& dir, const std::string& dir_path, const std::vector<Name>& names) {
    std::vector<Subdir> subdirs;
    for (auto it = names.rbegin(); it != names.rend(); ++it) {
      if (it->type != DT_DIR) continue;
      std::string path = Join(dir_path, it->name);
      const std::size_t name_at = path.size() - it->name.size();
      subdirs.push_back({.parent = dir, .dir = nullptr, .path = std::move(path), .name_at = name_at});
    }
    if (subdirs.empty()) return;
    std::lock_guard lock(mutex_);
    pending_.insert(pending_.end(), std::make_move_iterator(subdirs.begin()), std::make_move_iterator(subdirs.end()));
    if (idle_ > 0) changed_.notify_all();
  }

  const int workers_;
  const DirectoryVisitor& visit_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Subdir> pending_;
  int idle_ = 0, active_ = 0;
  std::atomic<bool> stopping_{false};  // set under the lock; read by walking workers without it, to stop promptly
  std::exception_ptr error_;           // the first failure, under the lock
};

}  // namespace

WalkStats WalkArchive(const std::string& root, int workers, const DirectoryVisitor& visit) {
  if (root.empty()) throw Error(Errc::kBadRequest, "archive root is empty");
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(root, ec);
  if (ec) throw Error(Errc::kBadRequest, "archive root '" + root + "': " + ec.message());
  std::string root_path = abs.lexically_normal().string();
  if (root_path.size() > 1 && root_path.back() == '/') root_path.pop_back();
  struct stat st {};
  if (::stat(root_path.c_str(), &st) != 0) {  // the root itself may be a symlink (e.g. a mount alias)
    throw Error(Errc::kBadRequest, "archive root '" + root + "' is not accessible: " + std::strerror(errno));
  }
  if (!S_ISDIR(st.st_mode)) throw Error(Errc::kBadRequest, "archive root '" + root + "' is not a directory");
  DirHandle dir = Adopt(::opendir(root_path.c_str()));
  if (!dir) {
    throw Error(Errc::kBadRequest, "archive root '" + root + "' cannot be listed: " + std::strerror(errno));
  }
  return Walker(workers, visit).Run(std::move(dir), root_path);
}

WalkStats WalkArchive(const std::string& root, int workers, const std::function<void(int, WalkEntry&&)>& visit) {
  return WalkArchive(root, workers, DirectoryVisitor([&visit](int worker, DirectoryFiles& part) {
    for (WalkEntry& entry : part.files) visit(worker, std::move(entry));
  }));
}

WalkStats WalkArchive(const std::string& root, const std::function<void(WalkEntry&&)>& visit) {
  return WalkArchive(root, 1, [&visit](int, WalkEntry&& entry) { visit(std::move(entry)); });
}

}  // namespace meta_db::extractor
