// KnownFiles: loading the last ingest's file records into one arena and a vector; lookups by path.
#include "driver/known_files.hpp"

#include <algorithm>
#include <bit>
#include <functional>

namespace meta_db::driver {

void KnownFiles::Load(Session& session, std::string_view root) {
  arena_.clear();
  files_.clear();
  session.VisitFileRecords(root, [&](const FileRecordView& record) {
    files_.push_back({.size = record.size,
                      .mtime_ns = record.mtime_ns,
                      .status = std::string(record.status),
                      .text = arena_.size(),
                      .path_size = static_cast<std::uint32_t>(record.path.size()),
                      .sop_size = static_cast<std::uint32_t>(record.sop_instance_uid.size())});
    arena_.append(record.path).append(record.sop_instance_uid);
  });
  slots_.assign(std::bit_ceil(std::max<std::size_t>(2 * files_.size(), 16)), 0);
  for (std::size_t i = 0; i < files_.size(); ++i) {
    std::size_t slot = Slot(PathOf(files_[i]));
    while (slots_[slot] != 0) slot = (slot + 1) & (slots_.size() - 1);
    slots_[slot] = static_cast<std::uint32_t>(i + 1);
  }
}

std::size_t KnownFiles::Slot(std::string_view path) const {
  return std::hash<std::string_view>{}(path) & (slots_.size() - 1);
}

const KnownFiles::File* KnownFiles::Find(std::string_view path) const {
  if (slots_.empty()) return nullptr;
  for (std::size_t slot = Slot(path); slots_[slot] != 0; slot = (slot + 1) & (slots_.size() - 1)) {
    const File& file = files_[slots_[slot] - 1];
    if (PathOf(file) == path) return &file;
  }
  return nullptr;
}

FileRecord KnownFiles::RecordOf(const File& file) const {
  return {.path = std::string(PathOf(file)),
          .size = file.size,
          .mtime_ns = file.mtime_ns,
          .status = file.status,
          .sop_instance_uid = std::string(SopOf(file))};
}

}  // namespace meta_db::driver
