// Builds the tag → destination index from the profiles plus the fixed promoted fields of the seed's schema.
#include "meta_extractor/tag_index.hpp"

#include <dcmtk/dcmdata/dcdicent.h>
#include <dcmtk/dcmdata/dcdict.h>
#include <dcmtk/dcmdata/dctag.h>

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

std::vector<std::uint32_t> DictionarySequenceTags() {
  std::vector<std::uint32_t> tags;
  // The iterators are only offered on the non-const dictionary, hence the write lock (held for microseconds,
  // once per Extractor).
  DcmDataDictionary& dict = dcmDataDict.wrlock();
  for (DcmHashDictIterator it = dict.normalBegin(); it != dict.normalEnd(); ++it) {
    const DcmDictEntry* entry = *it;
    if (entry != nullptr && entry->getVR().getEVR() == EVR_SQ && entry->getPrivateCreator() == nullptr) {
      tags.push_back((static_cast<std::uint32_t>(entry->getGroup()) << 16) | entry->getElement());
    }
  }
  dcmDataDict.wrunlock();
  std::sort(tags.begin(), tags.end());
  return tags;
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
  for (IndexEntry& e : index.entries) {
    e.dictionary_vr = DcmTag(static_cast<Uint16>(e.key >> 16), static_cast<Uint16>(e.key & 0xFFFF)).getEVR();
  }
  index.sequence_tags = DictionarySequenceTags();
  std::stable_sort(index.entries.begin(), index.entries.end(),
                   [](const IndexEntry& a, const IndexEntry& b) { return a.key < b.key; });
  return index;
}

}  // namespace meta_db::extractor::detail
