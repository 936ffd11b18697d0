// Internal: a sorted tag → destination index built once per Extractor, so each file is routed in one pass.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "meta_extractor/tag_profile.hpp"

namespace meta_db::extractor::detail {

enum class Slot {
  kMetadata,             // metadata[name] at `level`
  kPromoted,             // top-level field `name` at `level` (the seed's schema), first non-empty value
  kAcquisitionDateTime,  // the parts acquisition_datetime is built from
  kAcquisitionDate,
  kAcquisitionTime,
};

struct IndexEntry {
  std::uint32_t key = 0;  // (group << 16) | element
  int level = 0;          // 0 study, 1 series, 2 instance
  Slot slot = Slot::kMetadata;
  std::string name;       // metadata keyword or promoted field name
  int dictionary_vr = 0;  // DcmEVR from the data dictionary (what an implicit-VR value is read as)
};

struct TagIndex {
  std::vector<IndexEntry> entries;  // sorted by key; a tag may have several entries
  // Every tag the data dictionary defines as SQ, sorted: in implicit VR only the dictionary tells a sequence
  // from an opaque value (PS3.5 7.1.3), and the fast path must parse exactly what DCMTK parses.
  std::vector<std::uint32_t> sequence_tags;
};

// Promoted fields always; every other profiled tag to its level's metadata (a promoted tag is never repeated
// in metadata at its own level).
TagIndex BuildTagIndex(const ProfileSet& profiles);

}  // namespace meta_db::extractor::detail
