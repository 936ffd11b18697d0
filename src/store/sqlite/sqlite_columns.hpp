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

// The series' `qc.flags` (an array) as rows (flag, series rowid) of a side table kept by triggers on the series
// table (schema v9): a generated column holds an array as one JSON text, which no index can serve for membership.
inline constexpr std::string_view kQcFlagsPath = "qc.flags";
inline constexpr std::string_view kQcFlagsTable = "series_qc_flags";

}  // namespace meta_db::sqlite
