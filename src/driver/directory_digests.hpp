// DirectoryDigests: the last ingest's per-directory digests and this run's verdicts on the directories it walks.
#pragma once

#include "meta_extractor/archive_walk.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace meta_db::driver {

// Whether a file record's status lets an unchanged file be left alone: files that could not be opened (permissions
// change without touching mtime) and duplicates (the file holding their instance may have gone) are read every run.
bool IsSettled(std::string_view status);

// A directory's digest folded from its file records, the way DirectoryDigests::Of folds walked files: equal when the
// records match the files; `settled` when no record is of a kind that is read again every run.
class RecordDigest {
 public:
  void Add(const FileRecordView& record);
  std::int64_t digest() const;
  std::int64_t files() const { return static_cast<std::int64_t>(count_); }
  bool settled() const { return settled_; }

 private:
  std::uint64_t sum_ = 0, count_ = 0;
  bool settled_ = true;
};

// An unchanged archive should cost one stat per file and nothing per file beyond it: a directory whose files'
// names, sizes and mtimes hash to the digest the last ingest verified against its records is unchanged as a whole,
// with no file record loaded or looked up. Any other directory is judged file by file, and gets its digest after
// the run, once its committed records are read back and found to match what the walk saw.
class DirectoryDigests {
 public:
  // The digest of a directory's files: a sum of per-file hashes, so it does not depend on their order.
  static std::int64_t Of(const extractor::DirectoryFiles& part);

  // Loads the stored digests under `root` (which ends with '/').
  void Load(Session& session, std::string_view root);
  // How many files the loaded directories held when last digested (for progress; 0 when unknown).
  std::int64_t known_files() const { return known_files_; }

  // Walker threads, concurrently: notes that the walk met this part of a directory (`judged`: it is this run's to
  // judge, e.g. in this shard) and answers whether it is unchanged since the stored digest.
  bool Unchanged(const extractor::DirectoryFiles& part, bool judged);

  // After the walk. Whether the directory (with its trailing '/') was found unchanged as a whole.
  bool IsUnchanged(std::string_view directory) const;
  // Whether some stored directory this run was to judge was not met by the walk (removed, emptied or unreadable):
  // the records under it need looking at.
  bool MissedStored(const std::function<bool(std::string_view directory)>& judged) const;

  // After every write of the run has committed: stores the digest of each directory judged file by file whose
  // records now match the walk, and drops the rows of judged directories that no longer hold records. Opens no
  // transaction when there is nothing to do (an unchanged archive). `known`: the digest of a directory's records
  // when the run knows them all without reading them back (nullopt: they are read back).
  void Save(Store& store, const std::function<bool(std::string_view directory)>& judged,
            const std::function<std::optional<RecordDigest>(std::string_view directory)>& known) const;

 private:
  struct Walked {
    std::int64_t digest = 0;
    bool complete = false;   // all its files came in one part, so `digest` covers them all
    bool unchanged = false;  // matched the stored digest
  };
  std::unordered_map<std::string, std::optional<std::int64_t>> stored_;  // read-only once loaded
  std::int64_t known_files_ = 0;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Walked> walked_;  // judged directories met by the walk, under mutex_
};

}  // namespace meta_db::driver
