// The DICOM data dictionary (DCMTK's) as a plain lookup: keyword or "gggg,eeee" → tag, VR and a readable name.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace meta_db::extractor {

struct DictionaryEntry {
  std::string tag;      // "(0018,0050)"
  std::string vr;       // "DS"; "UN" for a tag the dictionary does not know (private)
  std::string keyword;  // "SliceThickness"
  std::string name;     // "Slice Thickness" (the keyword's words; DCMTK's dictionary carries no other name)
};

// nullopt for a keyword the dictionary does not define and for text that is neither a keyword nor "gggg,eeee".
// Thread-safe (the dictionary is only read, under DCMTK's own lock).
std::optional<DictionaryEntry> LookupDictionary(std::string_view keyword_or_tag);

}  // namespace meta_db::extractor
