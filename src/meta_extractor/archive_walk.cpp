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

// Each worker walks subtrees depth-first; a worker that meets a subdirectory while another worker waits idle hands
// it over instead of descending. With one worker nothing is ever handed over, so the order stays sorted; hand-offs
// are bounded by the idle workers, and so are the directories held open for them.
class Walker {
 public:
  Walker(int workers, const std::function<void(int, WalkEntry&&)>& visit)
      : workers_(std::max(workers, 1)), visit_(visit) {}

  WalkStats Run(DirHandle root, const std::string& root_path) {
    pending_.push_back({std::move(root), root_path});
    std::vector<WalkStats> stats(static_cast<std::size_t>(workers_));
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
  struct Subtree {
    DirHandle dir;
    std::string path;
  };

  void Work(int worker, WalkStats& stats) {
    std::unique_lock lock(mutex_);
    while (true) {
      ++idle_;
      changed_.wait(lock, [&] { return stopping_ || !pending_.empty() || active_ == 0; });
      --idle_;
      if (stopping_ || pending_.empty()) break;  // stopped, or nothing queued and nobody left to queue more
      Subtree subtree = std::move(pending_.back());
      pending_.pop_back();
      ++active_;
      lock.unlock();
      std::exception_ptr error;
      try {
        Walk(worker, subtree.dir, subtree.path, stats);
      } catch (...) {
        error = std::current_exception();
      }
      subtree = {};
      lock.lock();
      --active_;
      if (error) {
        if (!error_) error_ = std::move(error);
        stopping_ = true;
      }
      changed_.notify_all();
    }
    changed_.notify_all();
  }

  // Queues a subtree for an idle worker; false when none waits (the caller descends itself).
  bool HandOff(DirHandle& dir, const std::string& path) {
    if (workers_ == 1) return false;
    std::lock_guard lock(mutex_);
    if (static_cast<std::size_t>(idle_) <= pending_.size()) return false;
    pending_.push_back({std::move(dir), path});
    changed_.notify_one();
    return true;
  }

  void Walk(int worker, const DirHandle& dir, const std::string& dir_path, WalkStats& stats) {
    const int dir_fd = ::dirfd(dir.get());
    std::vector<std::string> names;
    while (const dirent* ent = ::readdir(dir.get())) {
      if (std::strcmp(ent->d_name, ".") == 0 || std::strcmp(ent->d_name, "..") == 0) continue;
      names.emplace_back(ent->d_name);
    }
    std::sort(names.begin(), names.end());  // byte order: deterministic across runs and machines
    for (const std::string& name : names) {
      if (stopping_) return;
      struct stat st {};
      if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // vanished meanwhile
      std::string path = dir_path;
      if (path.back() != '/') path += '/';
      path += name;
      if (S_ISREG(st.st_mode)) {
        ++stats.files;
        visit_(worker, WalkEntry{.path = std::move(path), .size = st.st_size, .mtime_ns = MtimeNs(st)});
      } else if (S_ISDIR(st.st_mode)) {
        DirHandle sub = OpenDirAt(dir_fd, name.c_str());
        if (!sub) {
          ++stats.unreadable_dirs;
          continue;
        }
        if (!HandOff(sub, path)) Walk(worker, sub, path, stats);
      }
      // symlinks, sockets, fifos, devices: skipped (a symlink may point outside the root)
    }
  }

  const int workers_;
  const std::function<void(int, WalkEntry&&)>& visit_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Subtree> pending_;
  int idle_ = 0, active_ = 0;
  std::atomic<bool> stopping_{false};  // set under the lock; read by walking workers without it, to stop promptly
  std::exception_ptr error_;           // the first failure, under the lock
};

}  // namespace

WalkStats WalkArchive(const std::string& root, int workers, const std::function<void(int, WalkEntry&&)>& visit) {
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

WalkStats WalkArchive(const std::string& root, const std::function<void(WalkEntry&&)>& visit) {
  return WalkArchive(root, 1, [&visit](int, WalkEntry&& entry) { visit(std::move(entry)); });
}

}  // namespace meta_db::extractor
