// The file records one ingest run wrote, by directory: the directory digests of the directories whose records are
// all this run's are confirmed from them instead of reading the records back (a scan on a server back-end).
#pragma once

#include "driver/directory_digests.hpp"
#include "driver/known_files.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace meta_db::driver {

class WrittenRecords {
 public:
  // The writer thread, as it writes or removes a record (a later write of a path replaces an earlier one).
  void Put(const FileRecord& record);
  void Remove(std::string_view path);

  // After every write of the run has committed: the digest of the records `directory` (with its trailing '/') holds,
  // when they are all this run's — the last ingest recorded none there (`previous`, loaded: nullptr when the run did
  // not load them) and the run removed none. nullopt: they must be read back.
  std::optional<RecordDigest> DigestOf(std::string_view directory, const KnownFiles* previous) const;

 private:
  struct Entry {
    std::int64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::string status;
  };
  std::unordered_map<std::string, std::unordered_map<std::string, Entry>> by_directory_;  // directory -> name -> entry
  std::unordered_set<std::string> removed_in_;
  mutable std::optional<std::unordered_set<std::string>> previous_directories_;
};

}  // namespace meta_db::driver
