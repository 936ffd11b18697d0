// Compiles a filter tree into an SQLite WHERE clause over one collection table: SQL text made only of our
// constants and numbered placeholders, plus the values to bind. No sqlite3 headers here; the store binds.
// Thread-safety: pure functions. Errors: none (what cannot be translated becomes an inexact superset).
#pragma once

#include "model/kind.hpp"
#include "query/query.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace meta_db::sqlite {

using query::Filter;
using query::SortKey;

using SqlValue = std::variant<std::nullptr_t, std::int64_t, double, std::string>;

struct SqlWhere {
  std::string sql = "1";        // a boolean SQL expression; placeholders ?1, ?2, ... index `params`
  std::vector<SqlValue> params;
  bool exact = true;            // false: rows are a superset; re-check with Matches() where `recheck`
  std::string recheck = "0";    // SQL, true for the rows whose match is uncertain (same placeholders)
  // If not empty: SELECTs of rowid sets, read from indexes only, whose intersection is exactly the
  // matching rows (same placeholders as `sql`). Lets the store count and page without reading the table.
  std::vector<std::string> rowid_sets;
};

// Name of the SQL function (registered by the store) that evaluates $regex with query::Regex:
// meta_db_regex(pattern, options, value) -> 1/0.
inline constexpr const char* kRegexSqlFunction = "meta_db_regex";
// Above this many bound values the filter is not pushed down (SQLite's variable limit).
inline constexpr std::size_t kMaxSqlParams = 30000;

// The WHERE expression for `filter` on the table of `kind` (nullptr filter: "1", exact).
// Indexed paths (IndexedFields) use their generated columns; other paths json_extract/json_each with the
// JSON path bound as a parameter.
SqlWhere CompileWhere(Kind kind, const Filter* filter);
// The same with its placeholders numbered after `params` (which the answer's params start with): for a statement
// that combines the conditions of several collections.
SqlWhere CompileWhere(Kind kind, const Filter* filter, std::vector<SqlValue> params);

// The SQLite JSON path for dotted path components ('$."a"."b"'), or nullopt when SQLite's path syntax
// cannot express them exactly (numeric components, which MongoDB resolves against arrays and objects
// alike; quotes, backslashes or control characters).
std::optional<std::string> SqlJsonPath(const std::vector<std::string>& parts);

// Appends one placeholder per call; returns "?N".
std::string AddParam(std::vector<SqlValue>& params, SqlValue value);

// ORDER BY for a sort that only uses indexed fields (ties broken by natural order, rowid), or nullopt.
std::optional<std::string> CompileOrderBy(Kind kind, const std::vector<SortKey>& sort);
// Conditions, each true for rows whose sort columns hold values SQL would order differently from
// MongoDB (booleans stored as 0/1, arrays/objects stored as JSON text); only valid if CompileOrderBy is.
// Each term starts with a range on one indexed column, so checking them one EXISTS at a time is an index
// search (an OR of them would make SQLite scan and parse every document).
std::vector<std::string> SortHazards(Kind kind, const std::vector<SortKey>& sort, std::vector<SqlValue>& params);

// FTS5 MATCH expression for free text: every word a quoted FTS5 string, AND-ed ("" if no words).
std::string FtsMatchExpression(std::string_view text);

}  // namespace meta_db::sqlite
