// Internal: DCMTK element → typed JSON value conversion (PS3.5 6.2 value representations), shared by the extractor.
#pragma once

#include <boost/json/value.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

class DcmElement;
class DcmItem;
class DcmSpecificCharacterSet;

namespace meta_db::extractor::detail {

// Decodes text of one dataset from its Specific Character Set (0008,0005) to UTF-8 (PS3.5 6.1). The iconv
// converter is created lazily, only when a value actually contains non-ASCII bytes or ISO 2022 escapes, because
// almost every archive header is pure ASCII. Not thread-safe: one per file being parsed.
class TextDecoder {
 public:
  explicit TextDecoder(std::string specific_character_set);
  ~TextDecoder();
  TextDecoder(const TextDecoder&) = delete;
  TextDecoder& operator=(const TextDecoder&) = delete;
  // `person_name` selects the PN delimiters (^ = \) at which ISO 2022 escape state resets (PS3.5 6.1.2.5.3).
  std::string Decode(std::string raw, bool person_name);

 private:
  std::string charset_;
  std::unique_ptr<DcmSpecificCharacterSet> converter_;
  bool failed_ = false;
};

// Maximum nesting of sequences kept in metadata (a top-level SQ is depth 1).
inline constexpr int kMaxSequenceDepth = 3;

// The JSON form of one element, or nullopt when it is omitted (binary VRs, values that were not loaded).
// Zero-length elements become null so `{"$exists": true}` still finds them.
std::optional<boost::json::value> ElementToJson(DcmElement& element, int depth, TextDecoder& decoder);

// One text value (a component between backslashes) of VR `vr` (a DcmEVR) → JSON: IS/DS as numbers when they
// parse, other VRs as trimmed, charset-decoded, valid UTF-8 strings. Shared by the DCMTK and the fast path.
boost::json::value TextComponentToJson(std::string_view component, int vr, TextDecoder& decoder);

// FL/FD value → number, or "NaN"/"Infinity"/"-Infinity" (JSON has no non-finite numbers).
boost::json::value FloatToJson(double value);

// True for VRs whose text is subject to the Specific Character Set (PS3.5 6.1.2.3).
bool IsCharsetVr(int vr);

// Keyword for a tag: dictionary keyword for public tags, "gggg,eeee" for private or unknown ones.
std::string TagKeyword(std::uint16_t group, std::uint16_t element);

// Replaces invalid UTF-8 sequences by U+FFFD so every emitted JSON string is valid UTF-8.
std::string ValidUtf8(std::string text);

}  // namespace meta_db::extractor::detail
