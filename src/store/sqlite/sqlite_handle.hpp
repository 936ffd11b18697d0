// RAII wrappers over sqlite3* and sqlite3_stmt*, with bound-parameter helpers and a prepared-statement cache.
// Thread-safety: a Database (and its statements) is used by one thread at a time.
// Errors: SQLite failures become meta_db::Error (busy/locked → kUnavailable, constraint → kConflict,
// interrupted → kTimeout, read-only, disk full and I/O errors → kUnavailable naming the file, others → kInternal).
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace meta_db::sqlite {

struct DatabaseCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};

// Converts a SQLite result code into an Error and throws it; `what` says what was being done.
[[noreturn]] void ThrowSqlite(sqlite3* db, int rc, std::string_view what);

class Statement {
 public:
  Statement(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}

  // Binds by 1-based index.
  Statement& Bind(int index, std::string_view text);
  Statement& Bind(int index, std::int64_t value);
  Statement& Bind(int index, double value);
  Statement& BindNull(int index);
  Statement& Bind(int index, const char*) = delete;  // would pick the bool/int overloads; use string_view

  // Steps once: true if a row is available.
  bool Step();
  // Steps to completion (for writes).
  void Run();
  void Reset();

  std::string_view Text(int column) const;
  std::int64_t Int(int column) const;
  double Real(int column) const;
  bool IsNull(int column) const;
  int ColumnType(int column) const { return sqlite3_column_type(stmt_, column); }
  sqlite3_stmt* raw() const { return stmt_; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

// A cached statement, reset and unbound when the handle goes out of scope.
class ScopedStatement {
 public:
  explicit ScopedStatement(Statement& statement) : statement_(&statement) {}
  ScopedStatement(const ScopedStatement&) = delete;
  ScopedStatement& operator=(const ScopedStatement&) = delete;
  ~ScopedStatement();
  Statement* operator->() { return statement_; }
  Statement& operator*() { return *statement_; }

 private:
  Statement* statement_;
};

class Database {
 public:
  // Opens (creating if allowed) the file; sets WAL, busy timeout, foreign keys off, synchronous NORMAL.
  Database(const std::string& path, bool read_only, int busy_timeout_ms = 10000, std::int64_t mmap_bytes = 0);

  // Runs SQL text without parameters (schema, pragmas, BEGIN/COMMIT).
  void Exec(std::string_view sql);
  // A prepared statement cached for the connection (SQL text of ours: constants and placeholders, never values;
  // the filter translation makes one text per filter shape).
  ScopedStatement Prepare(const std::string& sql);
  // Drops cached statements past a bound; call only when none is in use (between transactions).
  void TrimStatementCache(std::size_t max_statements);
  // A one-off statement (dynamic SQL built with placeholders only).
  std::unique_ptr<sqlite3_stmt, StatementFinalizer> PrepareOnce(const std::string& sql);

  std::int64_t Changes() const { return sqlite3_changes64(db_.get()); }
  sqlite3* raw() const { return db_.get(); }

  // Interrupts statements running past `deadline` (SQLITE_INTERRUPT → Error kTimeout); nullopt clears it.
  void SetDeadline(std::optional<std::chrono::steady_clock::time_point> deadline);

 private:
  static int OnProgress(void* self);

  std::unique_ptr<sqlite3, DatabaseCloser> db_;
  // A prepared statement and the wrapper handed out for it (stable address: the map may rehash).
  struct CachedStatement {
    std::unique_ptr<sqlite3_stmt, StatementFinalizer> handle;
    Statement statement;
  };
  std::unordered_map<std::string, std::unique_ptr<CachedStatement>> cache_;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
};

// BEGIN ... COMMIT; the destructor rolls back unless Commit() ran (as Orthanc's SQLite Transaction).
class Transaction {
 public:
  Transaction(Database& db, bool write);
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  ~Transaction();
  void Commit();

 private:
  Database& db_;
  bool done_ = false;
};

}  // namespace meta_db::sqlite
