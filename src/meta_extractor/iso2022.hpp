// Internal: ISO 2022 code-extension decoding (PS3.5 6.1.2.5) for the charsets DCMTK cannot convert with glibc's
// iconv (Japanese ISO 2022 IR 87 / 159 / 13), and as a general fallback for escape-sequence text.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace meta_db::extractor::detail {

// Decodes `raw` under the Specific Character Set value `charset` ("\"-separated defined terms) to UTF-8.
// `person_name` makes ^ and = reset the designations as PS3.5 6.1.2.5.3 requires for PN. nullopt when a
// designated set is unknown or a byte sequence is invalid.
std::optional<std::string> DecodeIso2022(std::string_view raw, std::string_view charset, bool person_name);

}  // namespace meta_db::extractor::detail
