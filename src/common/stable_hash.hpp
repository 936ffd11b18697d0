// A hash that is the same on every machine and every run (64-bit FNV-1a): for ids derived from DICOM UIDs and
// for splitting an archive into shards, which separate processes must agree on.
#pragma once

#include <cstdint>
#include <string_view>

namespace meta_db {

inline constexpr std::uint64_t kStableHashSeed = 14695981039346656037ULL;

// Not a security property: it spreads keys, nothing more.
constexpr std::uint64_t StableHash(std::string_view text, std::uint64_t hash = kStableHashSeed) {
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return hash;
}

}  // namespace meta_db
