// ObjectId generation and hex conversion.
#include "common/object_id.hpp"

#include "common/stable_hash.hpp"

#include <atomic>
#include <chrono>
#include <random>

namespace meta_db {

namespace {
struct ProcessSeed {
  std::array<std::uint8_t, 5> random{};
  std::uint32_t counter_start = 0;
  ProcessSeed() {
    std::random_device device;
    for (auto& b : random) b = static_cast<std::uint8_t>(device());
    counter_start = device();
  }
};

const ProcessSeed& Seed() {
  static const ProcessSeed seed;
  return seed;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

ObjectId ObjectId::Generate() {
  static std::atomic<std::uint32_t> counter{Seed().counter_start};
  const auto seconds = static_cast<std::uint32_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
  const std::uint32_t count = counter.fetch_add(1, std::memory_order_relaxed);
  std::array<std::uint8_t, 12> bytes{};
  for (int i = 0; i < 4; ++i) bytes[i] = static_cast<std::uint8_t>(seconds >> (24 - 8 * i));
  for (int i = 0; i < 5; ++i) bytes[4 + i] = Seed().random[i];
  for (int i = 0; i < 3; ++i) bytes[9 + i] = static_cast<std::uint8_t>(count >> (16 - 8 * i));
  return ObjectId(bytes);
}

ObjectId ObjectId::FromKey(std::string_view kind, std::string_view key, std::string_view group) {
  const std::uint64_t h1 = StableHash(key, StableHash(kind));
  std::array<std::uint8_t, 12> bytes{};
  if (group.empty()) {
    const std::uint64_t h2 = StableHash(kind, StableHash(key, 1469598103934665603ULL ^ h1));
    for (int i = 0; i < 8; ++i) bytes[i] = static_cast<std::uint8_t>(h1 >> (56 - 8 * i));
    for (int i = 0; i < 4; ++i) bytes[8 + i] = static_cast<std::uint8_t>(h2 >> (24 - 8 * i));
  } else {
    const std::uint64_t g = StableHash(group, StableHash(kind));
    for (int i = 0; i < 4; ++i) bytes[i] = static_cast<std::uint8_t>(g >> (56 - 8 * i));
    for (int i = 0; i < 8; ++i) bytes[4 + i] = static_cast<std::uint8_t>(h1 >> (56 - 8 * i));
  }
  return ObjectId(bytes);
}

std::optional<ObjectId> ObjectId::Parse(std::string_view hex) {
  if (hex.size() != 24) return std::nullopt;
  std::array<std::uint8_t, 12> bytes{};
  for (std::size_t i = 0; i < 12; ++i) {
    const int hi = HexValue(hex[2 * i]);
    const int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    bytes[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return ObjectId(bytes);
}

std::string ObjectId::ToHex() const {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(24, '0');
  for (std::size_t i = 0; i < 12; ++i) {
    out[2 * i] = kDigits[bytes_[i] >> 4];
    out[2 * i + 1] = kDigits[bytes_[i] & 0xF];
  }
  return out;
}

}  // namespace meta_db
