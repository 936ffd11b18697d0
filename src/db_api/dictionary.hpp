// The data-dictionary lookup the API answers GET /dictionary with (plugged in by the composition root).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace meta_db::db_api {

struct TagInfo {
  std::string tag;   // "(0018,0050)"
  std::string vr;    // "DS"
  std::string name;  // "Slice Thickness"
};

// Keyword (or "gggg,eeee" of a private tag) → entry; nullopt when the dictionary does not know it.
using DictionaryLookup = std::function<std::optional<TagInfo>(std::string_view)>;

}  // namespace meta_db::db_api
