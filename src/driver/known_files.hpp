// KnownFiles: the last ingest's file records under an archive root, held compactly for the walk's lookups.
#pragma once

#include "store/store.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace meta_db::driver {

// Paths and SOP UIDs live in one arena and the records in one vector (in the store's path order): loading
// LIDC-IDRI's quarter million records costs a copy of their text rather than a million small allocations, and
// holds a third less.
// Lookups go through an open-addressing table of indices: the walk asks once per file, and a binary search
// would compare a dozen paths that share their first hundred bytes.
class KnownFiles {
 public:
  struct File {
    std::int64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::string status;  // FileRecord::status (short, so stored inline)
    // Whether this run's walk met the file: written by the one walker thread that meets it, read after the walk.
    mutable bool seen = false;
    std::size_t text = 0;  // the path, then the SOP Instance UID, at this offset of the arena
    std::uint32_t path_size = 0, sop_size = 0;
  };

  // Loads the records under `root` (which ends with '/').
  void Load(Session& session, std::string_view root);

  // nullptr if the last ingest did not record `path`. Safe to call from several threads at once.
  const File* Find(std::string_view path) const;

  std::string_view PathOf(const File& file) const { return {arena_.data() + file.text, file.path_size}; }
  std::string_view SopOf(const File& file) const { return {arena_.data() + file.text + file.path_size, file.sop_size}; }
  FileRecord RecordOf(const File& file) const;

  const std::vector<File>& files() const { return files_; }
  std::size_t size() const { return files_.size(); }

 private:
  std::size_t Slot(std::string_view path) const;

  std::string arena_;
  std::vector<File> files_;
  std::vector<std::uint32_t> slots_;  // index + 1 into files_, 0 = empty; a power of two, at most half full
};

}  // namespace meta_db::driver
