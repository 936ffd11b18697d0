// Test-only LD_PRELOAD library: makes chosen OS calls fail with a chosen errno for chosen paths (or really removes
// a file right after a directory listing names it), so ingest tests meet EIO, ESTALE, EACCES and vanishing files
// the way a network mount or a live archive produces them. It injects operating-system faults only: meta_db's own
// code runs unchanged.
//
// META_DB_FAULTS holds rules separated by ';', each OP:ERRNO:PATH[:N]
//   OP     opendir | openat (a directory opened relative to its parent) | fstatat | readdir | open | pread | vanish
//   ERRNO  EIO, ESTALE, EACCES, ENOENT, ENOTDIR or a number (ignored by vanish)
//   PATH   an absolute path, matched exactly, or a prefix when it ends with '*'
//   N      readdir only: how many entries the directory yields before readdir fails (default 0)
// vanish: when readdir returns an entry whose path matches, the entry is unlinked at once (a real disappearance
// between the listing and the stat of it).
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

enum { kMaxRules = 16, kMaxDirs = 64 };

struct Rule {
  char op[16];
  int error;
  char path[1024];
  int prefix;
  long after;
};

struct Rules {
  int count;
  struct Rule rule[kMaxRules];
};

// How many entries each faulted open directory has yielded so far (readdir rules with N > 0).
struct DirCount {
  DIR* dir;
  long yielded;
};

struct Rules* LoadedRules() {
  static struct Rules rules;
  static int loaded;
  if (loaded) return &rules;
  loaded = 1;
  const char* env = getenv("META_DB_FAULTS");
  if (env == nullptr) return &rules;
  char* text = strdup(env);
  if (text == nullptr) return &rules;
  char* save = nullptr;
  for (char* item = strtok_r(text, ";", &save); item != nullptr && rules.count < kMaxRules;
       item = strtok_r(nullptr, ";", &save)) {
    struct Rule* r = &rules.rule[rules.count];
    char error[32] = {0};
    r->after = 0;
    if (sscanf(item, "%15[^:]:%31[^:]:%1023[^:]:%ld", r->op, error, r->path, &r->after) < 3) continue;
    if (strcmp(error, "EIO") == 0) r->error = EIO;
    else if (strcmp(error, "ESTALE") == 0) r->error = ESTALE;
    else if (strcmp(error, "EACCES") == 0) r->error = EACCES;
    else if (strcmp(error, "ENOENT") == 0) r->error = ENOENT;
    else if (strcmp(error, "ENOTDIR") == 0) r->error = ENOTDIR;
    else r->error = atoi(error);
    size_t n = strlen(r->path);
    r->prefix = n > 0 && r->path[n - 1] == '*';
    if (r->prefix) r->path[n - 1] = '\0';
    ++rules.count;
  }
  free(text);
  return &rules;
}

const struct Rule* Match(const char* op, const char* path) {
  const struct Rules* rules = LoadedRules();
  for (int i = 0; i < rules->count; ++i) {
    const struct Rule* r = &rules->rule[i];
    if (strcmp(r->op, op) != 0) continue;
    if (r->prefix ? strncmp(path, r->path, strlen(r->path)) == 0 : strcmp(path, r->path) == 0) return r;
  }
  return nullptr;
}

// The path an open descriptor names, or "" when it cannot be told.
void PathOfFd(int fd, char* out, size_t size) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  const ssize_t n = readlink(link, out, size - 1);
  out[n > 0 ? n : 0] = '\0';
}

void PathAt(int dirfd, const char* name, char* out, size_t size) {
  if (name[0] == '/' || dirfd == AT_FDCWD) {
    snprintf(out, size, "%s", name);
    return;
  }
  char dir[1024];
  PathOfFd(dirfd, dir, sizeof dir);
  snprintf(out, size, "%s/%s", dir, name);
}

// The next definition of `name` (the sanitizer's interceptor or libc's), as the type of `Fn`.
template <typename Fn>
Fn* Next(const char* name) {
  return reinterpret_cast<Fn*>(dlsym(RTLD_NEXT, name));
}

}  // namespace

extern "C" {

DIR* opendir(const char* path) {
  const struct Rule* r = Match("opendir", path);
  if (r != nullptr) {
    errno = r->error;
    return nullptr;
  }
  auto* real = Next<DIR*(const char*)>("opendir");
  return real(path);
}

static int OpenAtCommon(const char* symbol, int dirfd, const char* name, int flags, mode_t mode) {
  char path[2048];
  PathAt(dirfd, name, path, sizeof path);
  const struct Rule* r = Match((flags & O_DIRECTORY) ? "openat" : "open", path);
  if (r != nullptr) {
    errno = r->error;
    return -1;
  }
  auto* real = Next<int(int, const char*, int, ...)>(symbol);
  return real(dirfd, name, flags, mode);
}

int openat(int dirfd, const char* name, int flags, ...) {
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) {
    va_list args;
    va_start(args, flags);
    mode = va_arg(args, mode_t);
    va_end(args);
  }
  return OpenAtCommon("openat", dirfd, name, flags, mode);
}

int openat64(int dirfd, const char* name, int flags, ...) {
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) {
    va_list args;
    va_start(args, flags);
    mode = va_arg(args, mode_t);
    va_end(args);
  }
  return OpenAtCommon("openat64", dirfd, name, flags, mode);
}

static int OpenCommon(const char* symbol, const char* path, int flags, mode_t mode) {
  const struct Rule* r = Match("open", path);
  if (r != nullptr) {
    errno = r->error;
    return -1;
  }
  auto* real = Next<int(const char*, int, ...)>(symbol);
  return real(path, flags, mode);
}

int open(const char* path, int flags, ...) {
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) {
    va_list args;
    va_start(args, flags);
    mode = va_arg(args, mode_t);
    va_end(args);
  }
  return OpenCommon("open", path, flags, mode);
}

int open64(const char* path, int flags, ...) {
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) {
    va_list args;
    va_start(args, flags);
    mode = va_arg(args, mode_t);
    va_end(args);
  }
  return OpenCommon("open64", path, flags, mode);
}

static int StatAtCommon(const char* symbol, int dirfd, const char* name, struct stat* st, int flags) {
  char path[2048];
  PathAt(dirfd, name, path, sizeof path);
  const struct Rule* r = Match("fstatat", path);
  if (r != nullptr) {
    errno = r->error;
    return -1;
  }
  auto* real = Next<int(int, const char*, struct stat*, int)>(symbol);
  return real(dirfd, name, st, flags);
}

int fstatat(int dirfd, const char* name, struct stat* st, int flags) noexcept {
  return StatAtCommon("fstatat", dirfd, name, st, flags);
}

int fstatat64(int dirfd, const char* name, struct stat64* st, int flags) noexcept {
  return StatAtCommon("fstatat64", dirfd, name, reinterpret_cast<struct stat*>(st), flags);
}

static ssize_t PreadCommon(const char* symbol, int fd, void* buffer, size_t count, off_t offset) {
  char path[1024];
  PathOfFd(fd, path, sizeof path);
  const struct Rule* r = Match("pread", path);
  if (r != nullptr) {
    errno = r->error;
    return -1;
  }
  auto* real = Next<ssize_t(int, void*, size_t, off_t)>(symbol);
  return real(fd, buffer, count, offset);
}

ssize_t pread(int fd, void* buffer, size_t count, off_t offset) { return PreadCommon("pread", fd, buffer, count, offset); }
ssize_t pread64(int fd, void* buffer, size_t count, off_t offset) {
  return PreadCommon("pread64", fd, buffer, count, offset);
}

static struct dirent* ReaddirCommon(const char* symbol, DIR* dir) {
  static struct DirCount counts[kMaxDirs];
  char path[1024];
  PathOfFd(dirfd(dir), path, sizeof path);
  const struct Rule* r = Match("readdir", path);
  struct DirCount* slot = nullptr;
  if (r != nullptr) {
    for (int i = 0; i < kMaxDirs && slot == nullptr; ++i) {
      if (counts[i].dir == dir) slot = &counts[i];
    }
    for (int i = 0; i < kMaxDirs && slot == nullptr; ++i) {
      if (counts[i].dir == nullptr) {
        slot = &counts[i];
        slot->dir = dir;
        slot->yielded = 0;
      }
    }
    if (slot == nullptr || slot->yielded >= r->after) {
      if (slot != nullptr) slot->dir = nullptr;  // a directory handle's address may be reused by the next opendir
      errno = r->error;
      return nullptr;
    }
  }
  auto* real = Next<struct dirent*(DIR*)>(symbol);
  struct dirent* entry = real(dir);
  const bool dots = entry != nullptr && (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0);
  if (slot != nullptr && entry != nullptr && !dots) ++slot->yielded;  // N counts real entries only
  if (entry != nullptr && !dots) {
    char full[2048];
    snprintf(full, sizeof full, "%s/%s", path, entry->d_name);
    if (Match("vanish", full) != nullptr) unlinkat(dirfd(dir), entry->d_name, 0);
  }
  return entry;
}

struct dirent* readdir(DIR* dir) { return ReaddirCommon("readdir", dir); }
struct dirent64* readdir64(DIR* dir) { return reinterpret_cast<struct dirent64*>(ReaddirCommon("readdir64", dir)); }

}  // extern "C"
