// Keyword → tag/VR lookups in DCMTK's data dictionary, for the API's GET /dictionary.
#include "meta_extractor/dictionary.hpp"

#include <dcmtk/dcmdata/dcdicent.h>
#include <dcmtk/dcmdata/dcdict.h>
#include <dcmtk/dcmdata/dctag.h>

#include <cctype>
#include <charconv>
#include <cstdio>

namespace meta_db::extractor {
namespace {

bool ParseHex16(std::string_view s, std::uint16_t& out) {
  if (s.size() != 4) return false;
  const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out, 16);
  return ec == std::errc() && ptr == s.data() + s.size();
}

// "SliceThickness" → "Slice Thickness", "SOPClassUID" → "SOP Class UID".
std::string Words(std::string_view keyword) {
  std::string out;
  for (std::size_t i = 0; i < keyword.size(); ++i) {
    const auto c = static_cast<unsigned char>(keyword[i]);
    const bool upper = std::isupper(c) != 0;
    const bool prev_lower = i > 0 && std::islower(static_cast<unsigned char>(keyword[i - 1])) != 0;
    const bool next_lower = i + 1 < keyword.size() && std::islower(static_cast<unsigned char>(keyword[i + 1])) != 0;
    const bool prev_upper = i > 0 && std::isupper(static_cast<unsigned char>(keyword[i - 1])) != 0;
    if (i > 0 && upper && (prev_lower || (prev_upper && next_lower))) out.push_back(' ');
    out.push_back(static_cast<char>(c));
  }
  return out;
}

std::string TagText(std::uint16_t group, std::uint16_t element) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "(%04X,%04X)", group, element);
  return buffer;
}

}  // namespace

std::optional<DictionaryEntry> LookupDictionary(std::string_view text) {
  if (text.empty() || text.size() > 64) return std::nullopt;
  std::uint16_t group = 0, element = 0;
  if (text.size() == 9 && text[4] == ',' && ParseHex16(text.substr(0, 4), group) &&
      ParseHex16(text.substr(5), element)) {
    // A private or unnamed tag, stored under its number (tag_profile.cpp).
    const DcmDataDictionary& dict = dcmDataDict.rdlock();
    const DcmDictEntry* entry = dict.findEntry(DcmTagKey(group, element), nullptr);
    DictionaryEntry out{TagText(group, element), entry != nullptr ? entry->getVR().getVRName() : "UN",
                        entry != nullptr && entry->getTagName() != nullptr ? entry->getTagName() : std::string(text),
                        ""};
    dcmDataDict.rdunlock();
    out.name = entry != nullptr ? Words(out.keyword) : "Private or unknown tag";
    return out;
  }
  for (char c : text) {
    if (std::isalnum(static_cast<unsigned char>(c)) == 0) return std::nullopt;
  }
  const std::string keyword(text);
  DcmTag tag;
  if (DcmTag::findTagFromName(keyword.c_str(), tag).bad()) return std::nullopt;
  return DictionaryEntry{TagText(tag.getGroup(), tag.getElement()), tag.getVR().getVRName(), keyword, Words(keyword)};
}

}  // namespace meta_db::extractor
