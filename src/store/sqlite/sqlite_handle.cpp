// SQLite connection, statement and transaction wrappers.
#include "store/sqlite/sqlite_handle.hpp"

#include "common/error.hpp"

#include <cerrno>
#include <mutex>
#include <system_error>

namespace meta_db::sqlite {

namespace {

// The file a connection writes, for messages about the disk under it ("" when unknown).
std::string FileOf(sqlite3* db) {
  const char* name = db != nullptr ? sqlite3_db_filename(db, "main") : nullptr;
  return name != nullptr ? name : "";
}

// A full disk is the user's to fix, not a bug: it says so, names the file, and what became of the write. SQLite
// reports it as SQLITE_FULL (ENOSPC on the database file or its log) or, where it grows the log's index, as an I/O
// error whose errno is ENOSPC/EDQUOT.
bool IsDiskFull(sqlite3* db, int rc) {
  if ((rc & 0xFF) == SQLITE_FULL) return true;
  if ((rc & 0xFF) != SQLITE_IOERR || db == nullptr) return false;
  const int system_errno = sqlite3_system_errno(db);
  return system_errno == ENOSPC || system_errno == EDQUOT;
}

}  // namespace

void ThrowSqlite(sqlite3* db, int rc, std::string_view what) {
  const int primary = rc & 0xFF;
  std::string message = std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  if (IsDiskFull(db, rc)) {
    // SQLite rolls the transaction back (or it is rolled back when its Transaction unwinds): nothing of it stays.
    throw Error(Errc::kUnavailable, "disk full: no space left to write the database '" + FileOf(db) +
                                        "' (or its -wal log); the unfinished write was rolled back, everything "
                                        "committed before it is intact: free space, then retry (" + message + ")");
  }
  switch (primary) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED: throw Error(Errc::kUnavailable, "database is locked by another process (" + message + ")");
    case SQLITE_READONLY: throw Error(Errc::kUnavailable, "database is read-only (" + message + ")");
    case SQLITE_CONSTRAINT: throw Error(Errc::kConflict, message);
    case SQLITE_INTERRUPT: throw Error(Errc::kTimeout, "query exceeded its time budget and was interrupted");
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT: throw Error(Errc::kUnavailable, message);
    // The file system under the database failed (EIO, a vanished mount): the store is unusable, not our bug.
    case SQLITE_IOERR:
      throw Error(Errc::kUnavailable, "I/O error on the database '" + FileOf(db) + "': " + message +
                                          (db != nullptr && sqlite3_system_errno(db) != 0
                                               ? " (" + std::generic_category().message(sqlite3_system_errno(db)) + ")"
                                               : ""));
    default: throw Error(Errc::kInternal, message);
  }
}

Statement& Statement::Bind(int index, std::string_view text) {
  const int rc = sqlite3_bind_text64(stmt_, index, text.data(), text.size(), SQLITE_TRANSIENT, SQLITE_UTF8);
  if (rc != SQLITE_OK) ThrowSqlite(db_, rc, "bind");
  return *this;
}
Statement& Statement::Bind(int index, std::int64_t value) {
  const int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) ThrowSqlite(db_, rc, "bind");
  return *this;
}
Statement& Statement::Bind(int index, double value) {
  const int rc = sqlite3_bind_double(stmt_, index, value);
  if (rc != SQLITE_OK) ThrowSqlite(db_, rc, "bind");
  return *this;
}
Statement& Statement::BindNull(int index) {
  const int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) ThrowSqlite(db_, rc, "bind");
  return *this;
}

bool Statement::Step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  ThrowSqlite(db_, rc, "step");
}

void Statement::Run() {
  while (Step()) {
  }
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::string_view Statement::Text(int column) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, column));
  if (text == nullptr) return {};
  return {text, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column))};
}
std::int64_t Statement::Int(int column) const { return sqlite3_column_int64(stmt_, column); }
double Statement::Real(int column) const { return sqlite3_column_double(stmt_, column); }
bool Statement::IsNull(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

ScopedStatement::~ScopedStatement() { statement_->Reset(); }

namespace {
// A log that grew past this is cut back to it once a checkpoint restarts it (and to nothing on close).
constexpr std::int64_t kLogLimitBytes = 64 << 20;
// Process-wide SQLite settings, applied once before the library initialises. Memory statistics take a
// global mutex on every allocation, which serialises all reader threads of the server; we never read them.
void ConfigureSqliteOnce() {
  static std::once_flag once;
  std::call_once(once, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
}
}  // namespace

Database::Database(const std::string& path, bool read_only, int busy_timeout_ms, std::int64_t mmap_bytes) {
  ConfigureSqliteOnce();
  sqlite3* raw = nullptr;
  const int flags = (read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) |
                    SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  db_.reset(raw);
  if (rc != SQLITE_OK) ThrowSqlite(raw, rc, "cannot open database '" + path + "'");
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, busy_timeout_ms);
  if (!read_only) {
    Exec("PRAGMA journal_mode=WAL");
    // The log and its index stay on disk, emptied, when the last connection closes (each close checkpoints
    // everything into the database file, so the file alone is complete): the next process neither creates nor
    // sizes them again. Emptied, because the first connection of a process rebuilds the log's index by reading
    // the whole log: a kept 10 MB log made an unchanged re-ingest of 4,633 files 20 ms instead of 7.
    int persist = 1;
    sqlite3_file_control(raw, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
    Exec("PRAGMA journal_size_limit=" + std::to_string(kLogLimitBytes));
  }
  Exec("PRAGMA synchronous=NORMAL");
  Exec("PRAGMA foreign_keys=OFF");
  Exec("PRAGMA cache_size=-65536");
  Exec("PRAGMA temp_store=MEMORY");
  Exec("PRAGMA mmap_size=" + std::to_string(mmap_bytes));
  sqlite3_progress_handler(raw, 1000, &Database::OnProgress, this);
}

void Database::Exec(std::string_view sql) {
  char* message = nullptr;
  const std::string text(sql);
  const int rc = sqlite3_exec(db_.get(), text.c_str(), nullptr, nullptr, &message);
  if (message != nullptr) sqlite3_free(message);
  if (rc != SQLITE_OK) ThrowSqlite(db_.get(), rc, "exec");
}

ScopedStatement Database::Prepare(const std::string& sql) {
  auto found = cache_.find(sql);
  if (found == cache_.end()) {
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v3(db_.get(), sql.c_str(), static_cast<int>(sql.size() + 1),
                                      SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
    if (rc != SQLITE_OK) ThrowSqlite(db_.get(), rc, "prepare");
    std::unique_ptr<sqlite3_stmt, StatementFinalizer> handle(stmt);
    found = cache_.emplace(sql, std::make_unique<CachedStatement>(CachedStatement{std::move(handle), Statement(db_.get(), stmt)}))
                .first;
  }
  return ScopedStatement(found->second->statement);
}

void Database::TrimStatementCache(std::size_t max_statements) {
  if (cache_.size() <= max_statements) return;
  cache_.clear();
}

std::unique_ptr<sqlite3_stmt, StatementFinalizer> Database::PrepareOnce(const std::string& sql) {
  sqlite3_stmt* stmt = nullptr;
  const int rc = sqlite3_prepare_v2(db_.get(), sql.c_str(), static_cast<int>(sql.size() + 1), &stmt, nullptr);
  std::unique_ptr<sqlite3_stmt, StatementFinalizer> owned(stmt);
  if (rc != SQLITE_OK) ThrowSqlite(db_.get(), rc, "prepare");
  return owned;
}

void Database::SetDeadline(std::optional<std::chrono::steady_clock::time_point> deadline) { deadline_ = deadline; }

int Database::OnProgress(void* self) {
  const auto* database = static_cast<const Database*>(self);
  return database->deadline_ && std::chrono::steady_clock::now() > *database->deadline_ ? 1 : 0;
}

Transaction::Transaction(Database& db, bool write) : db_(db) { db_.Exec(write ? "BEGIN IMMEDIATE" : "BEGIN"); }

Transaction::~Transaction() {
  if (!done_) {
    try {
      db_.Exec("ROLLBACK");
    } catch (...) {
      // A failed rollback leaves SQLite to roll back on close; nothing more can be done in a destructor.
    }
  }
}

void Transaction::Commit() {
  db_.Exec("COMMIT");
  done_ = true;
}

}  // namespace meta_db::sqlite
