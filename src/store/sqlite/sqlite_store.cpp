// SqliteStore: connection pool (readers) and one serialised writer over a WAL database file.
#include "store/sqlite/sqlite_store.hpp"

#include "common/error.hpp"
#include "store/sqlite/sqlite_schema.hpp"
#include "store/sqlite/sqlite_session.hpp"

#include <mutex>
#include <vector>

namespace meta_db::sqlite {

namespace {

class SqliteStore final : public Store {
 public:
  SqliteStore(std::string path, const StoreOptions& options) : path_(std::move(path)), options_(options) {
    if (!options_.read_only) {
      // The writer reads through its page cache: during a big ingest it touches the whole file, and mapped
      // pages would all count as resident memory.
      writer_ = std::make_unique<Database>(path_, false, options_.busy_timeout_ms, 0);
      // Checkpoints copy every changed page from the WAL into the file; with the default (every 1,000 pages) a
      // bulk ingest copies its hot index pages again and again. Fewer, larger checkpoints copy each page once.
      writer_->Exec("PRAGMA wal_autocheckpoint=" + std::to_string(options_.wal_checkpoint_pages));
      EnsureSchema(*writer_);
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

  // On its own connection, so it runs beside the writer's transactions; PASSIVE copies what no reader still needs
  // and waits for nobody. Once the log is fully copied, the next write starts it over instead of growing it.
  void Checkpoint() override {
    if (options_.read_only) return;
    std::lock_guard lock(checkpoint_mutex_);
    if (!checkpointer_) checkpointer_ = std::make_unique<Database>(path_, false, options_.busy_timeout_ms, 0);
    checkpointer_->Exec("PRAGMA wal_checkpoint(PASSIVE)");
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
  }

 private:
  // Readers reuse idle connections so prepared statements stay warm; a failed read drops its connection.
  std::unique_ptr<Database> CheckOut() {
    {
      std::lock_guard lock(pool_mutex_);
      if (!idle_.empty()) {
        std::unique_ptr<Database> db = std::move(idle_.back());
        idle_.pop_back();
        return db;
      }
    }
    return std::make_unique<Database>(path_, options_.read_only, options_.busy_timeout_ms, options_.mmap_bytes);
  }

  void CheckIn(std::unique_ptr<Database> db) {
    std::lock_guard lock(pool_mutex_);
    if (idle_.size() < kMaxIdle) idle_.push_back(std::move(db));
  }

  static constexpr std::size_t kMaxIdle = 16;
  // Filters of many shapes each leave a statement in the cache; past this many the cache starts afresh.
  static constexpr std::size_t kMaxCachedStatements = 512;
  std::string path_;
  StoreOptions options_;
  std::mutex writer_mutex_;
  std::unique_ptr<Database> writer_;
  std::mutex checkpoint_mutex_;
  std::unique_ptr<Database> checkpointer_;
  std::mutex pool_mutex_;
  std::vector<std::unique_ptr<Database>> idle_;
};

}  // namespace

std::unique_ptr<Store> OpenSqliteStore(const std::string& path, const StoreOptions& options) {
  return std::make_unique<SqliteStore>(path, options);
}

}  // namespace meta_db::sqlite
