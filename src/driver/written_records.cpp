// WrittenRecords: the run's own file records, folded into directory digests without a read-back.
#include "driver/written_records.hpp"

namespace meta_db::driver {

void WrittenRecords::Put(const FileRecord& record) {
  const std::string_view path = record.path;
  const std::string_view directory = DirectoryOf(path);
  by_directory_[std::string(directory)][std::string(path.substr(directory.size()))] =
      Entry{record.size, record.mtime_ns, record.status};
}

void WrittenRecords::Remove(std::string_view path) {
  const std::string_view directory = DirectoryOf(path);
  removed_in_.emplace(directory);
  if (const auto found = by_directory_.find(std::string(directory)); found != by_directory_.end()) {
    found->second.erase(std::string(path.substr(directory.size())));
  }
}

std::optional<RecordDigest> WrittenRecords::DigestOf(std::string_view directory, const KnownFiles* previous) const {
  if (previous == nullptr || removed_in_.contains(std::string(directory))) return std::nullopt;
  if (!previous_directories_) {
    previous_directories_.emplace();
    for (const KnownFiles::File& file : previous->files()) previous_directories_->emplace(DirectoryOf(previous->PathOf(file)));
  }
  if (previous_directories_->contains(std::string(directory))) return std::nullopt;
  RecordDigest digest;
  if (const auto found = by_directory_.find(std::string(directory)); found != by_directory_.end()) {
    for (const auto& [name, entry] : found->second) {
      digest.Add(FileRecordView{.path = name, .size = entry.size, .mtime_ns = entry.mtime_ns, .status = entry.status,
                                .sop_instance_uid = {}});
    }
  }
  return digest;
}

}  // namespace meta_db::driver
