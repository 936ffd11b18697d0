// SqliteStore: connection pool (readers) and one serialised writer over a WAL database file.
#include "store/sqlite/sqlite_store.hpp"

#include "common/error.hpp"
#include "store/sqlite/sqlite_schema.hpp"
#include "store/sqlite/sqlite_session.hpp"

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <stop_token>
#include <thread>
#include <vector>

namespace meta_db::sqlite {

namespace {

// Bytes of the file readers memory-map (fast reads for serving). Mapped pages count as resident memory, so a
// bulk load, which touches the whole file, maps nothing and keeps its RSS bounded.
constexpr std::int64_t kServeMmapBytes = 256LL << 20;
// Page cache of a pass connection (ReadPass), as PRAGMA cache_size (negative: KiB): a pass reads each page about
// once, so a small cache loses little, and with no mapping either the process's memory stays flat however large the
// file (the kernel's page cache, not the process, keeps the file's pages warm).
constexpr int kPassCacheKiB = 4096;
// WAL pages between automatic checkpoints: SQLite's default, and for a bulk load 64 MiB — a checkpoint copies every
// changed page from the log into the file, and with the default a bulk ingest copies its hot index pages again and
// again.
constexpr int kServeCheckpointPages = 1000;
constexpr int kBulkCheckpointPages = 16384;

// Runs PASSIVE checkpoints on its own connection and thread after each committed unit of a bulk load: the log's
// copy into the main file (and its fsync) then overlaps the writer's next unit instead of stalling it, and the log
// stays about one unit long. A failed checkpoint loses nothing (the log keeps the commits; closing the store
// checkpoints again), so it becomes a warning, not an error.
class BackgroundCheckpointer {
 public:
  BackgroundCheckpointer(std::string path, int busy_timeout_ms)
      : path_(std::move(path)), busy_timeout_ms_(busy_timeout_ms), thread_([this](std::stop_token stop) { Run(stop); }) {}
  BackgroundCheckpointer(const BackgroundCheckpointer&) = delete;
  BackgroundCheckpointer& operator=(const BackgroundCheckpointer&) = delete;
  ~BackgroundCheckpointer() {
    {
      std::lock_guard lock(mutex_);
      thread_.request_stop();
    }
    wanted_.notify_all();
  }

  void Request() {
    {
      std::lock_guard lock(mutex_);
      requested_ = true;
    }
    wanted_.notify_one();
  }

  std::vector<std::string> TakeFailures() {
    std::lock_guard lock(mutex_);
    return std::exchange(failures_, {});
  }

 private:
  void Run(std::stop_token stop) {
    std::unique_ptr<Database> db;
    std::unique_lock lock(mutex_);
    while (true) {
      wanted_.wait(lock, [&] { return requested_ || stop.stop_requested(); });
      if (stop.stop_requested()) return;
      requested_ = false;
      lock.unlock();
      std::string failure;
      try {
        // On its own connection, so it runs beside the writer's transactions; PASSIVE copies what no reader still
        // needs and waits for nobody. Once the log is fully copied, the next write starts it over.
        if (!db) db = std::make_unique<Database>(path_, false, busy_timeout_ms_, 0);
        db->Exec("PRAGMA wal_checkpoint(PASSIVE)");
      } catch (const std::exception& e) {
        failure = e.what();
      }
      lock.lock();
      if (!failure.empty() && failures_.empty()) {
        failures_.push_back("background checkpoint failed (closing the store checkpoints again): " + failure);
      }
    }
  }

  std::string path_;
  int busy_timeout_ms_;
  std::mutex mutex_;
  std::condition_variable wanted_;
  bool requested_ = false;
  std::vector<std::string> failures_;
  std::jthread thread_;  // last: started after the members it uses
};

class SqliteStore final : public Store {
 public:
  SqliteStore(std::string path, const StoreOptions& options) : path_(std::move(path)), options_(options) {
    if (!options_.read_only) {
      // The writer reads through its page cache: during a big ingest it touches the whole file, and mapped
      // pages would all count as resident memory.
      writer_ = std::make_unique<Database>(path_, false, options_.lock_wait_ms, 0);
      writer_->Exec("PRAGMA wal_autocheckpoint=" +
                    std::to_string(options_.bulk_load ? kBulkCheckpointPages : kServeCheckpointPages));
      EnsureSchema(*writer_);
      if (options_.bulk_load) checkpointer_ = std::make_unique<BackgroundCheckpointer>(path_, options_.lock_wait_ms);
    }
  }

  std::string_view Backend() const override { return "sqlite"; }

  void Read(const std::function<void(Session&)>& fn) override {
    std::unique_ptr<Database> db = CheckOut();
    db->TrimStatementCache(kMaxCachedStatements);
    {
      Transaction transaction(*db, false);
      SqliteSession session(*db, std::chrono::milliseconds(options_.query_budget_ms));
      fn(session);
      transaction.Commit();
    }
    CheckIn(std::move(db));
  }

  void ReadPass(const std::function<void(Session&)>& fn) override {
    std::unique_ptr<Database> db = CheckOut(true);
    db->TrimStatementCache(kMaxCachedStatements);
    {
      Transaction transaction(*db, false);
      SqliteSession session(*db, std::chrono::milliseconds(options_.query_budget_ms));
      fn(session);
      transaction.Commit();
    }
    CheckIn(std::move(db), true);
  }

  void Write(const std::function<void(Session&)>& fn) override {
    if (options_.read_only) throw Error(Errc::kUnavailable, "store opened read-only");
    std::lock_guard lock(writer_mutex_);
    writer_->TrimStatementCache(kMaxCachedStatements);
    Transaction transaction(*writer_, true);
    SqliteSession session(*writer_, std::chrono::milliseconds(options_.query_budget_ms));
    fn(session);
    session.ClearTouchedDigests();
    transaction.Commit();
    if (checkpointer_) checkpointer_->Request();
  }

  std::vector<std::string> TakeWarnings() override {
    return checkpointer_ ? checkpointer_->TakeFailures() : std::vector<std::string>{};
  }

 private:
  // Readers reuse idle connections so prepared statements stay warm; a failed read drops its connection. Pass
  // connections (ReadPass) map nothing and cache little; they have a pool of their own.
  std::unique_ptr<Database> CheckOut(bool pass = false) {
    {
      std::lock_guard lock(pool_mutex_);
      auto& idle = pass ? idle_pass_ : idle_;
      if (!idle.empty()) {
        std::unique_ptr<Database> db = std::move(idle.back());
        idle.pop_back();
        return db;
      }
    }
    auto db = std::make_unique<Database>(path_, options_.read_only, options_.lock_wait_ms,
                                         options_.bulk_load || pass ? 0 : kServeMmapBytes);
    if (pass) db->Exec("PRAGMA cache_size=-" + std::to_string(kPassCacheKiB));
    return db;
  }

  void CheckIn(std::unique_ptr<Database> db, bool pass = false) {
    std::lock_guard lock(pool_mutex_);
    auto& idle = pass ? idle_pass_ : idle_;
    if (idle.size() < (pass ? kMaxIdlePass : kMaxIdle)) idle.push_back(std::move(db));
  }

  static constexpr std::size_t kMaxIdle = 16;
  static constexpr std::size_t kMaxIdlePass = 2;
  // Filters of many shapes each leave a statement in the cache; past this many the cache starts afresh.
  static constexpr std::size_t kMaxCachedStatements = 512;
  std::string path_;
  StoreOptions options_;
  std::mutex writer_mutex_;
  std::unique_ptr<Database> writer_;
  std::unique_ptr<BackgroundCheckpointer> checkpointer_;  // bulk loads only
  std::mutex pool_mutex_;
  std::vector<std::unique_ptr<Database>> idle_;
  std::vector<std::unique_ptr<Database>> idle_pass_;
};

[[noreturn]] void ThrowNoCatalogue(const std::string& path, const std::string& why) {
  throw Error(Errc::kNotFound, "no catalogue at " + path + " (" + why +
                                   "); `meta_db ingest` or `meta_db migrate --to` creates one");
}

// StoreOptions::must_exist: looks without creating or writing anything (no file, no WAL switch, no schema).
void RequireCatalogue(const std::string& path, const StoreOptions& options) {
  std::ifstream file(path, std::ios::binary);
  if (!file) ThrowNoCatalogue(path, std::filesystem::exists(path) ? "cannot be read" : "no such file");
  constexpr std::string_view kMagic{"SQLite format 3\0", 16};  // the file header, https://sqlite.org/fileformat.html
  std::string header(kMagic.size(), '\0');
  file.read(header.data(), static_cast<std::streamsize>(header.size()));
  if (file.gcount() == 0) ThrowNoCatalogue(path, "an empty file");
  if (header != kMagic) ThrowNoCatalogue(path, "not an SQLite database");
  Database probe(path, true, options.lock_wait_ms, 0);
  auto info = probe.Prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta_db_info'");
  if (!info->Step()) ThrowNoCatalogue(path, "an SQLite database without meta_db's schema");
}

}  // namespace

std::unique_ptr<Store> OpenSqliteStore(const std::string& path, const StoreOptions& options) {
  if (options.must_exist) RequireCatalogue(path, options);
  return std::make_unique<SqliteStore>(path, options);
}

}  // namespace meta_db::sqlite
