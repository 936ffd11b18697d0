// Pieces of the SQLite Find that the cohort finder (sqlite_cohort.cpp) shares: binding, the regex function, the
// time budget and a Find restricted by an SQL condition of the caller's.
#pragma once

#include "store/sqlite/sql_compile.hpp"
#include "store/sqlite/sqlite_handle.hpp"
#include "store/store.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace meta_db::sqlite {

// The query budget of a statement sequence; cleared on every exit path.
class DeadlineGuard {
 public:
  DeadlineGuard(Database& db, std::chrono::steady_clock::time_point deadline) : db_(db) { db_.SetDeadline(deadline); }
  DeadlineGuard(const DeadlineGuard&) = delete;
  DeadlineGuard& operator=(const DeadlineGuard&) = delete;
  ~DeadlineGuard() { db_.SetDeadline(std::nullopt); }

 private:
  Database& db_;
};

// Binds params[i] to ?i+1 (values beyond the statement's placeholders are skipped).
void BindAll(Statement& st, const std::vector<SqlValue>& params);
// Registers meta_db_regex on the connection once.
void EnsureRegexFunction(sqlite3* db);

// An exact condition on one collection's table (unqualified columns, placeholders ?1.. into params).
struct SqlScope {
  std::string sql;
  std::vector<SqlValue> params;
};

// A filter and free text as a condition on one collection's table: exact, or a superset whose `recheck` rows the
// matcher decides. Registers the regex function on `db` when the condition uses it.
struct FilterPlan {
  std::string where = "(1)";  // placeholders ?1.. into params
  std::vector<SqlValue> params;
  bool exact = true;
  std::string recheck = "(0)";          // SQL: the rows whose match the matcher must decide
  std::vector<std::string> rowid_sets;  // index-only rowid sets whose intersection is the answer, if any
};
// Errors: kBadRequest for free text on another level than series.
FilterPlan PlanFilter(Database& db, Kind kind, const query::Filter* filter, std::string_view text);

// Find (sort, paging, projection, total) over the rows of `kind` satisfying `scope`; q.filter and q.text are unused.
FindResult FindScoped(Database& db, std::chrono::steady_clock::time_point deadline, Kind kind, const query::Query& q,
                      const SqlScope& scope);

}  // namespace meta_db::sqlite
