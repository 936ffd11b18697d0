// SQL column names of the indexed document paths (model/kind.hpp's IndexedFields): constants derived from our
// own paths, never from user text.
#pragma once

#include "model/kind.hpp"

#include <string>
#include <string_view>

namespace meta_db::sqlite {

// "_id" -> "id"; "metadata.SliceThickness" -> "m_slice_thickness"; a top-level path is its own name.
std::string ColumnName(std::string_view path);
inline std::string ColumnName(const IndexedField& field) { return ColumnName(field.path); }

}  // namespace meta_db::sqlite
