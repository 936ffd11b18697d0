// Recursive, sorted, symlink-free walk of an archive root using POSIX directory handles, on one or more threads.
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

  // Hands over the files gathered so far; `last` when no more can follow. Complete = the directory in one part.
  void Flush(bool last) {
    if (files_.empty()) return;
    DirectoryFiles part{.path = path_, .files = std::move(files_), .complete = last && !split_};
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
    for (const WalkStats& s : stats) {
      total.files += s.files;
      total.unreadable_dirs += s.unreadable_dirs;
    }
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
        if (!subdir.dir) subdir.dir = OpenSubdir(::dirfd(subdir.parent.get()), subdir.path.c_str() + subdir.name_at, stats);
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

  // nullptr (counted as unreadable unless it vanished or stopped being a directory since it was listed) on failure.
  static DirHandle OpenSubdir(int parent_fd, const char* name, WalkStats& stats) {
    DirHandle dir = OpenDirAt(parent_fd, name);
    if (!dir && errno != ENOENT && errno != ENOTDIR && errno != ELOOP) ++stats.unreadable_dirs;
    return dir;
  }

  static std::vector<Name> List(DIR* dir) {
    std::vector<Name> names;
    while (const dirent* ent = ::readdir(dir)) {
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
    std::vector<Name> names = List(dir.get());
    if (workers_ > 1) Queue(dir, dir_path, names);
    Part part(worker, dir_path, visit_);
    for (const Name& entry : names) {
      if (stopping_) return;
      if (entry.type == DT_DIR) {
        if (workers_ == 1) Descend(worker, part, dir_fd, entry.name, stats);  // else queued above
        continue;
      }
      if (entry.type != DT_REG && entry.type != DT_UNKNOWN) continue;  // links, sockets, fifos, devices: skipped
      struct stat st {};
      if (::fstatat(dir_fd, entry.name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // vanished meanwhile
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
    DirHandle sub = OpenSubdir(dir_fd, name.c_str(), stats);
    if (!sub) return;
    part.Flush(false);
    Walk(worker, sub, Join(part.path(), name), stats);
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
