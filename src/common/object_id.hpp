// MongoDB-compatible 12-byte ObjectId: generation, 24-hex parsing and printing.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace meta_db {

class ObjectId {
 public:
  ObjectId() = default;  // all zero
  explicit ObjectId(const std::array<std::uint8_t, 12>& bytes) : bytes_(bytes) {}

  // A fresh id: 4-byte seconds, 5 random bytes per process, 3-byte counter (as MongoDB). Thread-safe.
  static ObjectId Generate();
  // A deterministic id derived from a key (e.g. a DICOM UID), so re-ingest and sharded ingest agree. With a
  // `group` (e.g. an instance's series UID) the first 4 bytes derive from the group and the other 8 from the key:
  // a group's ids sit together in an index, as MongoDB's time-led ids do, so a bulk ingest touches few pages.
  static ObjectId FromKey(std::string_view kind, std::string_view key, std::string_view group = {});
  // Parses exactly 24 hex digits; nullopt otherwise.
  static std::optional<ObjectId> Parse(std::string_view hex);
  static bool IsValid(std::string_view hex) { return Parse(hex).has_value(); }

  std::string ToHex() const;
  const std::array<std::uint8_t, 12>& bytes() const { return bytes_; }
  auto operator<=>(const ObjectId&) const = default;

 private:
  std::array<std::uint8_t, 12> bytes_{};
};

}  // namespace meta_db
