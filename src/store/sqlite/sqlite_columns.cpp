// Column naming of the SQLite store's generated columns.
#include "store/sqlite/sqlite_columns.hpp"

#include <cctype>

namespace meta_db::sqlite {

std::string ColumnName(std::string_view path) {
  if (path == "_id") return "id";
  constexpr std::string_view kMetadata = "metadata.";
  if (!path.starts_with(kMetadata)) {
    // Nested promoted fields ("annotations.nodules", "ratings.malignancy"): a plain identifier.
    std::string column(path);
    for (char& c : column) {
      if (c == '.') c = '_';
    }
    return column;
  }
  // DICOM keywords are CamelCase: "m_" + snake_case keeps the names the schema has always had.
  std::string column = "m";
  for (char c : path.substr(kMetadata.size())) {
    if (std::isupper(static_cast<unsigned char>(c))) {
      column += '_';
      column += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    } else {
      column += c;
    }
  }
  return column;
}

}  // namespace meta_db::sqlite
