// UTF-8 validation (RFC 3629): text that reaches JSON must be UTF-8, or the JSON meta_db writes would not be.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace meta_db {

// Offset of the first byte that breaks UTF-8 (overlong forms, surrogates and code points past U+10FFFF included),
// or nullopt when all of `text` is UTF-8. Pure.
std::optional<std::size_t> FirstInvalidUtf8(std::string_view text);

inline bool IsValidUtf8(std::string_view text) { return !FirstInvalidUtf8(text).has_value(); }

}  // namespace meta_db
