// Recursive, sorted, symlink-free walk of an archive root using POSIX directory handles (no stat of followed links).
#include "meta_extractor/archive_walk.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <vector>

#include "common/error.hpp"

namespace meta_db::extractor {
namespace {

struct DirCloser {
  void operator()(DIR* dir) const noexcept { ::closedir(dir); }
};
using DirHandle = std::unique_ptr<DIR, DirCloser>;

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
  return DirHandle(dir);
}

class Walker {
 public:
  explicit Walker(const std::function<void(WalkEntry&&)>& visit) : visit_(visit) {}

  void Walk(DIR* dir, const std::string& dir_path) {
    const int dir_fd = ::dirfd(dir);
    std::vector<std::string> names;
    while (const dirent* ent = ::readdir(dir)) {
      if (std::strcmp(ent->d_name, ".") == 0 || std::strcmp(ent->d_name, "..") == 0) continue;
      names.emplace_back(ent->d_name);
    }
    std::sort(names.begin(), names.end());  // byte order: deterministic across runs and machines
    for (const std::string& name : names) {
      struct stat st {};
      if (::fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;  // vanished meanwhile
      std::string path = dir_path;
      if (path.back() != '/') path += '/';
      path += name;
      if (S_ISREG(st.st_mode)) {
        ++stats_.files;
        visit_(WalkEntry{.path = std::move(path), .size = st.st_size, .mtime_ns = MtimeNs(st)});
      } else if (S_ISDIR(st.st_mode)) {
        DirHandle sub = OpenDirAt(dir_fd, name.c_str());
        if (!sub) {
          ++stats_.unreadable_dirs;
          continue;
        }
        Walk(sub.get(), path);
      }
      // symlinks, sockets, fifos, devices: skipped (a symlink may point outside the root)
    }
  }

  const WalkStats& stats() const { return stats_; }

 private:
  const std::function<void(WalkEntry&&)>& visit_;
  WalkStats stats_;
};

}  // namespace

WalkStats WalkArchive(const std::string& root, const std::function<void(WalkEntry&&)>& visit) {
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
  DirHandle dir(::opendir(root_path.c_str()));
  if (!dir) {
    throw Error(Errc::kBadRequest, "archive root '" + root + "' cannot be listed: " + std::strerror(errno));
  }
  Walker walker(visit);
  walker.Walk(dir.get(), root_path);
  return walker.stats();
}

}  // namespace meta_db::extractor
