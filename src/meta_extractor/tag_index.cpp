// Builds the tag → destination index from the profiles plus the fixed promoted fields of the seed's schema.
#include "meta_extractor/tag_index.hpp"

#include <algorithm>
#include <array>

namespace meta_db::extractor::detail {
namespace {

struct Promoted {
  std::uint32_t key;
  int level;
  const char* field;
};

// The seed's promoted, indexed fields. Integers (series_number, instance_number) come from IS values, which
// ElementToJson already turns into numbers.
constexpr std::array<Promoted, 11> kPromoted = {{
    {0x0020000D, 0, "study_instance_uid"},
    {0x00080050, 0, "accession_number"},
    {0x00100020, 0, "patient_id"},
    {0x00080020, 0, "study_date"},
    {0x0020000E, 1, "series_instance_uid"},
    {0x00200011, 1, "series_number"},
    {0x0008103E, 1, "series_description"},
    {0x00080060, 1, "modality"},
    {0x00080018, 2, "sop_instance_uid"},
    {0x00080016, 2, "sop_class_uid"},
    {0x00200013, 2, "instance_number"},
}};

bool IsPromotedAt(std::uint32_t key, int level) {
  return std::any_of(kPromoted.begin(), kPromoted.end(),
                     [&](const Promoted& p) { return p.key == key && p.level == level; });
}

}  // namespace

TagIndex BuildTagIndex(const ProfileSet& profiles) {
  TagIndex index;
  for (const Promoted& p : kPromoted) {
    index.entries.push_back({.key = p.key, .level = p.level, .slot = Slot::kPromoted, .name = p.field});
  }
  index.entries.push_back({.key = 0x0008002A, .level = 2, .slot = Slot::kAcquisitionDateTime, .name = {}});
  index.entries.push_back({.key = 0x00080022, .level = 2, .slot = Slot::kAcquisitionDate, .name = {}});
  index.entries.push_back({.key = 0x00080032, .level = 2, .slot = Slot::kAcquisitionTime, .name = {}});
  const std::array<const TagProfile*, 3> levels = {&profiles.study, &profiles.series, &profiles.instance};
  for (int level = 0; level < 3; ++level) {
    for (const ProfileTag& tag : levels[static_cast<std::size_t>(level)]->tags) {
      const std::uint32_t key = (static_cast<std::uint32_t>(tag.group) << 16) | tag.element;
      if (IsPromotedAt(key, level)) continue;
      index.entries.push_back({.key = key, .level = level, .slot = Slot::kMetadata, .name = tag.keyword});
    }
  }
  std::stable_sort(index.entries.begin(), index.entries.end(),
                   [](const IndexEntry& a, const IndexEntry& b) { return a.key < b.key; });
  return index;
}

}  // namespace meta_db::extractor::detail
