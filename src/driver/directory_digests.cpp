// DirectoryDigests: digests of a directory's (name, size, mtime) triples, compared during the walk, saved after it.
#include "driver/directory_digests.hpp"

#include "common/stable_hash.hpp"

#include <algorithm>
#include <map>
#include <tuple>
#include <utility>
#include <vector>

namespace meta_db::driver {
namespace {

// Past one directory to confirm, their records are read in one pass over their common prefix: a server back-end
// may answer each range with a scan of every record.
constexpr std::size_t kOnePassDirectories = 1;

// SplitMix64's finaliser: spreads every input bit over the whole word, so a sum of file hashes stays collision-free
// in practice (a changed directory goes unnoticed with probability ~2^-64).
constexpr std::uint64_t Mix(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

std::uint64_t FileHash(std::string_view name, std::int64_t size, std::int64_t mtime_ns) {
  return Mix(StableHash(name) ^ Mix(static_cast<std::uint64_t>(size) + Mix(static_cast<std::uint64_t>(mtime_ns))));
}

// Sum and count folded into the stored (signed, as SQLite keeps integers) value.
std::int64_t Finish(std::uint64_t sum, std::uint64_t count) { return static_cast<std::int64_t>(Mix(sum + Mix(count))); }

std::string KeyOf(const std::string& directory) { return directory.ends_with('/') ? directory : directory + '/'; }

}  // namespace

bool IsSettled(std::string_view status) { return status != "unreadable" && status != "duplicate"; }

void RecordDigest::Add(const FileRecordView& record) {
  sum_ += FileHash(record.path.substr(record.path.rfind('/') + 1), record.size, record.mtime_ns);
  ++count_;
  settled_ = settled_ && IsSettled(record.status);
}

std::int64_t RecordDigest::digest() const { return Finish(sum_, count_); }

std::int64_t DirectoryDigests::Of(const extractor::DirectoryFiles& part) {
  std::uint64_t sum = 0;
  for (const extractor::WalkEntry& file : part.files) {
    const std::string_view path = file.path;
    sum += FileHash(path.substr(path.rfind('/') + 1), file.size, file.mtime_ns);
  }
  return Finish(sum, part.files.size());
}

void DirectoryDigests::Load(Session& session, std::string_view root) {
  stored_.clear();
  known_files_ = 0;
  session.VisitDirectoryDigests(root, [&](const DirectoryDigest& row) {
    stored_.emplace(std::string(row.directory), row.digest);
    known_files_ += row.files;
  });
}

bool DirectoryDigests::Unchanged(const extractor::DirectoryFiles& part, bool judged) {
  if (!judged) return false;
  std::string key = KeyOf(part.path);
  const std::int64_t digest = part.complete ? Of(part) : 0;
  bool unchanged = false;
  if (part.complete) {
    const auto stored = stored_.find(key);
    unchanged = stored != stored_.end() && stored->second == digest;
  }
  std::lock_guard lock(mutex_);
  const auto [walked, first] = walked_.try_emplace(std::move(key), Walked{digest, part.complete, unchanged});
  if (!first) walked->second = Walked{};  // a further part of a split directory: judged file by file
  return unchanged;
}

bool DirectoryDigests::IsUnchanged(std::string_view directory) const {
  std::lock_guard lock(mutex_);
  const auto walked = walked_.find(std::string(directory));
  return walked != walked_.end() && walked->second.unchanged;
}

bool DirectoryDigests::MissedStored(const std::function<bool(std::string_view directory)>& judged) const {
  std::lock_guard lock(mutex_);
  return std::any_of(stored_.begin(), stored_.end(), [&](const auto& stored) {
    return judged(stored.first) && !walked_.contains(stored.first);
  });
}

void DirectoryDigests::Save(Store& store, const std::function<bool(std::string_view directory)>& judged,
                            const std::function<std::optional<RecordDigest>(std::string_view directory)>& known) const {
  std::vector<std::pair<std::string, std::int64_t>> to_verify;
  std::vector<std::string> missed;
  std::vector<std::tuple<std::string, std::int64_t, std::int64_t>> confirmed;  // directory, digest, files
  {
    std::lock_guard lock(mutex_);
    for (const auto& [directory, walked] : walked_) {
      if (!walked.complete || walked.unchanged) continue;
      if (const std::optional<RecordDigest> own = known(directory)) {
        if (own->settled() && own->digest() == walked.digest) confirmed.emplace_back(directory, walked.digest, own->files());
      } else {
        to_verify.emplace_back(directory, walked.digest);
      }
    }
    for (const auto& [directory, digest] : stored_) {
      if (judged(directory) && !walked_.contains(directory)) missed.push_back(directory);
    }
  }
  if (to_verify.empty() && missed.empty() && confirmed.empty()) return;
  std::sort(to_verify.begin(), to_verify.end());
  std::sort(missed.begin(), missed.end());
  // Calls `visit` with the records directly in `directory` (its range also holds its subdirectories' records).
  const auto visit_own = [](Session& session, const std::string& directory, const auto& visit) {
    session.VisitFileRecords(directory, [&](const FileRecordView& record) {
      if (DirectoryOf(record.path) == directory) visit(record);
    });
  };
  store.Write([&](Session& session) {
    for (const auto& [directory, digest, files] : confirmed) session.PutDirectoryDigest(directory, digest, files);
    if (to_verify.empty() && missed.empty()) return;
    // Many directories: one pass over the records under their common prefix (one request on a server back-end,
    // which may have to scan for each range) instead of a range per directory.
    std::map<std::string, RecordDigest, std::less<>> tallies;
    const bool one_pass = to_verify.size() > kOnePassDirectories;
    if (one_pass) {
      std::string_view prefix = to_verify.front().first;
      for (const auto& [directory, digest] : to_verify) {
        std::size_t common = 0;
        while (common < prefix.size() && common < directory.size() && prefix[common] == directory[common]) ++common;
        prefix = prefix.substr(0, common);
      }
      prefix = prefix.substr(0, prefix.rfind('/') + 1);
      for (const auto& [directory, digest] : to_verify) tallies[directory];
      session.VisitFileRecords(prefix, [&](const FileRecordView& record) {
        const std::string_view directory = DirectoryOf(record.path);
        if (const auto found = tallies.find(directory); found != tallies.end()) found->second.Add(record);
      });
    }
    for (const auto& [directory, digest] : to_verify) {
      RecordDigest own;
      if (one_pass) {
        own = tallies[directory];
      } else {
        visit_own(session, directory, [&](const FileRecordView& record) { own.Add(record); });
      }
      // A file that changed while the run parsed it, or failed in a way that is retried, leaves no digest.
      if (own.settled() && own.digest() == digest) session.PutDirectoryDigest(directory, digest, own.files());
    }
    for (const std::string& directory : missed) {
      bool holds_records = false;
      visit_own(session, directory, [&](const FileRecordView&) { holds_records = true; });
      if (!holds_records) session.RemoveDirectoryDigest(directory);
    }
  });
}

}  // namespace meta_db::driver
